DROP TABLE IF EXISTS collector_landing;
