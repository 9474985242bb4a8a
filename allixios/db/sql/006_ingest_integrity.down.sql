-- undo 006_ingest_integrity: back to one event id per day across tenants (fails if two tenants
-- now share an event id on a day; remove one of them first)
ALTER TABLE raw.page_events DROP CONSTRAINT page_events_pkey;
ALTER TABLE raw.page_events ADD PRIMARY KEY (event_date, event_id);
ALTER TABLE raw.revenue_events DROP CONSTRAINT revenue_events_pkey;
ALTER TABLE raw.revenue_events ADD PRIMARY KEY (event_date, event_id);
