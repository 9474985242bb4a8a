DROP TABLE IF EXISTS alerts, intake_files, refresh_requests CASCADE;
