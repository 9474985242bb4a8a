"""Database access: the server (embedded or by URL), engines, migrations."""
