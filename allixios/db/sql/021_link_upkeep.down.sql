DROP TABLE IF EXISTS competitor_fetch_cache CASCADE;
DROP TABLE IF EXISTS internal_link_applications CASCADE;
