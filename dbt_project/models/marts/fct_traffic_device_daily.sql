{{ traffic_config() }}
-- Page views per tenant, niche, day and device (incremental by day).
{{ traffic_by(['device']) }}
