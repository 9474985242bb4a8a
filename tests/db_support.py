"""The clean slate between tests: empty the app tables of the session database, schema kept."""

from __future__ import annotations

from sqlalchemy.engine import URL

from allixios.db.engine import connect

APP_TABLES_TO_KEEP = {"alembic_version"}


def _tables_to_empty(conn) -> list[str]:
    """The app tables that hold rows or whose identity sequence has moved: TRUNCATE of every table costs
    ~0.3 s per test (new files for each of ~60 tables), truncating only these gives the same clean slate."""
    tables = conn.execute(
        """SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables
           WHERE schemaname IN ('public', 'raw') AND tablename <> ALL(%s)""",
        (list(APP_TABLES_TO_KEEP),),
    ).fetchall()
    if not tables:
        return []
    # one round trip: each probe stops at the first visible row
    probe = " UNION ALL ".join(
        f"SELECT {i} WHERE EXISTS (SELECT FROM {name} LIMIT 1)" for i, (name,) in enumerate(tables)
    )
    busy = {tables[row[0]][0] for row in conn.execute(probe).fetchall()}
    # a sequence that was used must restart even when its table was emptied by the test itself
    moved = conn.execute(
        """SELECT DISTINCT quote_ident(tn.nspname) || '.' || quote_ident(t.relname)
           FROM pg_depend d
           JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
           JOIN pg_sequences ps ON ps.schemaname = s.relnamespace::regnamespace::text AND ps.sequencename = s.relname
           JOIN pg_class t ON t.oid = d.refobjid
           JOIN pg_namespace tn ON tn.oid = t.relnamespace
           WHERE d.deptype IN ('a', 'i') AND tn.nspname IN ('public', 'raw') AND ps.last_value IS NOT NULL"""
    ).fetchall()
    return sorted(busy | {m[0] for m in moved})


def empty_app_tables(url: URL) -> None:
    """Remove every row of the app tables (schema kept), identity sequences restarted."""
    with connect(url) as conn:
        tables = _tables_to_empty(conn)
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
