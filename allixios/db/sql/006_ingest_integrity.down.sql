-- undo 006_ingest_integrity: back to one event id per day across tenants and one topic file per
-- content across tenants (fails if two tenants now share an event id on a day or a topic file;
-- remove one of them first)
ALTER TABLE intake_files DROP CONSTRAINT intake_files_pkey;
ALTER TABLE intake_files ADD PRIMARY KEY (sha256);
ALTER TABLE intake_files DROP COLUMN tenant;
ALTER TABLE raw.page_events DROP CONSTRAINT page_events_pkey;
ALTER TABLE raw.page_events ADD PRIMARY KEY (event_date, event_id);
ALTER TABLE raw.revenue_events DROP CONSTRAINT revenue_events_pkey;
ALTER TABLE raw.revenue_events ADD PRIMARY KEY (event_date, event_id);
