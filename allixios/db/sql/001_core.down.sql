DROP TABLE IF EXISTS audit_log, categories, niches, authors, users, tenants CASCADE;
