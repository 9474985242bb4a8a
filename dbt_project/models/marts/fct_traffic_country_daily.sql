{{ traffic_config() }}
-- Page views per tenant, niche, day and country (incremental by day).
{{ traffic_by(['country']) }}
