DROP TABLE IF EXISTS publications, publishing_targets CASCADE;
