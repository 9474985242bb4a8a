-- Ingest integrity (issue 11): an event is identified by (day, tenant, event id), so two tenants'
-- feeds that number events alike never collide and neither loses rows as "duplicates".
ALTER TABLE raw.page_events DROP CONSTRAINT page_events_pkey;
ALTER TABLE raw.page_events ADD PRIMARY KEY (event_date, tenant_id, event_id);
ALTER TABLE raw.revenue_events DROP CONSTRAINT revenue_events_pkey;
ALTER TABLE raw.revenue_events ADD PRIMARY KEY (event_date, tenant_id, event_id);
