DROP TABLE IF EXISTS analytics_builds;
DROP SEQUENCE IF EXISTS analytics_build_seq;
