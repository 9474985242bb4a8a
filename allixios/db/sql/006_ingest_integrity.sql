-- Ingest integrity (issue 11): an event is identified by (day, tenant, event id), so two tenants'
-- feeds that number events alike never collide and neither loses rows as "duplicates".
ALTER TABLE raw.page_events DROP CONSTRAINT page_events_pkey;
ALTER TABLE raw.page_events ADD PRIMARY KEY (event_date, tenant_id, event_id);
ALTER TABLE raw.revenue_events DROP CONSTRAINT revenue_events_pkey;
ALTER TABLE raw.revenue_events ADD PRIMARY KEY (event_date, tenant_id, event_id);

-- Topic files are bound to a tenant like event feeds (the folder they land in, or `topics import
-- --tenant`): "once per file content" is per tenant, so the same bytes landed for two tenants
-- load for both. Files recorded before this revision count as the default tenant's.
ALTER TABLE intake_files ADD COLUMN tenant text NOT NULL DEFAULT 'sample';
ALTER TABLE intake_files ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE intake_files DROP CONSTRAINT intake_files_pkey;
ALTER TABLE intake_files ADD PRIMARY KEY (tenant, sha256);
