-- Reader marts (issue 15): which build of the marts each tenant's day is at.
--
-- The dbt build of a day (analytics_job, `allixios marts build`) records, per tenant and day, a
-- fingerprint of that day's rows in marts.mart_content_health. A build that changed them gets a
-- new build_seq (from one sequence, so "newer" is one comparison); a rebuild that left them alike
-- keeps the old build_seq and only counts itself. The score-drop sensor's cursor is the highest
-- build_seq it has evaluated: a rebuilt day is seen again, an unchanged one is not
-- (allixios/analytics/builds.py).
CREATE SEQUENCE analytics_build_seq;

CREATE TABLE analytics_builds (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    day date NOT NULL,
    build_seq bigint NOT NULL,
    fingerprint text NOT NULL,
    health_rows integer NOT NULL,
    built_at timestamptz NOT NULL DEFAULT now(),   -- when the rows last changed
    checked_at timestamptz NOT NULL DEFAULT now(), -- when a build last looked (changed or not)
    builds integer NOT NULL DEFAULT 1,
    run_id text,
    PRIMARY KEY (tenant_id, day)
);
CREATE INDEX analytics_builds_seq_idx ON analytics_builds (build_seq);
