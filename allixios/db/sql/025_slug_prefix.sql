-- Free slugs found by an index range, not a scan of the tenant's articles (issue 19). `unique_slugs`
-- looks for a base slug and its numbered forms (base-2, base-3 …); with the database's collation a
-- prefix is not an index range in general (en_US orders punctuation last), in "C" it is:
-- [base, base || '-:') holds base and every base-<digits>.
CREATE INDEX articles_tenant_slug_c_idx ON articles (tenant_id, (slug COLLATE "C"));
