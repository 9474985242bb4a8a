{{ traffic_config() }}
-- Page views per tenant, niche, day, channel and referrer host (incremental by day).
{{ traffic_by(['channel', 'referrer_host']) }}
