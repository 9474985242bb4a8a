"""Database upkeep: ANALYZE, VACUUM where dead rows pile up, REINDEX CONCURRENTLY of bloated
indexes, and the retention of raw events by month. Each step returns before/after figures.

Runs on an autocommit connection (VACUUM and REINDEX CONCURRENTLY cannot run in a transaction),
over the tables of the schemas Allixios owns (``public``, ``raw``, ``marts``, ``staging``,
``intermediate``).

- **VACUUM**: a table whose dead tuples are at least ``min_dead_tuples`` and ``dead_ratio`` of its
  live ones (``pg_stat_user_tables``) is vacuumed (``VACUUM (ANALYZE)``).
- **REINDEX**: the embedded server has no ``pgstattuple``, so bloat is estimated the way the
  common catalogue queries do: the pages a B-tree needs for its tuples (``reltuples`` x (key width
  from ``pg_stats`` + 12 bytes of tuple header and line pointer), at the default fill factor 90 %)
  against the pages it has. An index of at least ``min_index_pages`` pages whose estimated bloat is
  ``max_bloat`` or more is rebuilt with ``REINDEX INDEX CONCURRENTLY`` (readers and writers go on).
- **Retention**: raw events are kept ``keep_months`` whole months back (default 25: two years and
  the running month). Older months of ``raw.page_events``, ``raw.revenue_events`` and
  ``raw.rejected_events`` are deleted month by month (the tables are not partitioned: this is the
  documented purge), with the row count of every purged month in the report. The marts keep
  their aggregates; only the raw rows go.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from psycopg import sql

from allixios.db.engine import fetch_dicts

SCHEMAS = ("public", "raw", "marts", "staging", "intermediate")
RAW_TABLES = ("raw.page_events", "raw.revenue_events", "raw.rejected_events")


@dataclass(frozen=True)
class UpkeepPolicy:
    min_dead_tuples: int = 1000
    dead_ratio: float = 0.2
    min_index_pages: int = 10
    max_bloat: float = 0.5
    keep_months: int = 25


def _table_stats(conn: psycopg.Connection) -> list[dict[str, Any]]:
    conn.execute("SELECT pg_stat_clear_snapshot()")  # fresh counters, not this session's cached snapshot
    return fetch_dicts(
        conn,
        """SELECT schemaname || '.' || relname AS table, schemaname, relname, n_live_tup, n_dead_tup,
                  n_mod_since_analyze, last_analyze, last_autoanalyze, last_vacuum, last_autovacuum
           FROM pg_stat_user_tables WHERE schemaname = ANY(%s) ORDER BY 1""",
        (list(SCHEMAS),),
    )


def analyze(conn: psycopg.Connection) -> dict[str, Any]:
    before = _table_stats(conn)
    conn.execute("ANALYZE")
    after = _table_stats(conn)
    return {
        "tables": len(after),
        "rows_changed_since_analyze_before": sum(t["n_mod_since_analyze"] for t in before),
        "rows_changed_since_analyze_after": sum(t["n_mod_since_analyze"] for t in after),
        "never_analyzed_before": sum(1 for t in before if not (t["last_analyze"] or t["last_autoanalyze"])),
        "never_analyzed_after": sum(1 for t in after if not (t["last_analyze"] or t["last_autoanalyze"])),
    }


def vacuum_dead(conn: psycopg.Connection, policy: UpkeepPolicy = UpkeepPolicy()) -> list[dict[str, Any]]:
    due = [t for t in _table_stats(conn)
           if t["n_dead_tup"] >= policy.min_dead_tuples and t["n_dead_tup"] >= policy.dead_ratio * max(t["n_live_tup"], 1)]
    done = []
    for t in due:
        size_before = conn.execute("SELECT pg_total_relation_size(%s::regclass)", (t["table"],)).fetchone()[0]
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}.{}").format(sql.Identifier(t["schemaname"]), sql.Identifier(t["relname"])))
        after = _stats_of(conn, t["table"])
        done.append({"table": t["table"], "dead_before": t["n_dead_tup"], "dead_after": after["n_dead_tup"],
                     "live": after["n_live_tup"], "bytes_before": size_before,
                     "bytes_after": conn.execute("SELECT pg_total_relation_size(%s::regclass)", (t["table"],)).fetchone()[0]})
    return done


def _stats_of(conn: psycopg.Connection, table: str) -> dict[str, Any]:
    # VACUUM reports its counts when it ends; they reach the shared statistics a moment later
    for _ in range(50):
        row = next((t for t in _table_stats(conn) if t["table"] == table), None)
        if row and row["last_vacuum"] is not None:
            return row
        time.sleep(0.1)
    return row or {"n_dead_tup": None, "n_live_tup": None}


def index_bloat(conn: psycopg.Connection, policy: UpkeepPolicy = UpkeepPolicy()) -> list[dict[str, Any]]:
    """Estimated bloat of every B-tree index of at least ``min_index_pages`` pages."""
    return fetch_dicts(
        conn,
        """
        WITH idx AS (
            SELECT n.nspname AS schema, ci.relname AS index, ct.relname AS table, i.indexrelid,
                   ci.relpages, ci.reltuples, current_setting('block_size')::int AS bs,
                   (SELECT coalesce(sum(coalesce(s.avg_width, 8)), 8) FROM unnest(i.indkey) AS k(attnum)
                    LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                    LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = ct.relname
                                        AND s.attname = a.attname) AS key_width
            FROM pg_index i
            JOIN pg_class ci ON ci.oid = i.indexrelid
            JOIN pg_class ct ON ct.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = ci.relnamespace
            JOIN pg_am am ON am.oid = ci.relam AND am.amname = 'btree'
            WHERE n.nspname = ANY(%(schemas)s) AND ci.relpages >= %(min_pages)s AND i.indisvalid
        )
        SELECT schema || '.' || index AS index, schema || '.' || "table" AS table, relpages AS pages,
               greatest(1, ceil(reltuples * (key_width + 12) / (bs * 0.9)))::bigint AS expected_pages,
               round(greatest(0, 1 - greatest(1, ceil(reltuples * (key_width + 12) / (bs * 0.9))) / relpages)::numeric,
                     3)::float AS bloat,
               pg_relation_size(indexrelid) AS bytes
        FROM idx ORDER BY bloat DESC
        """,
        {"schemas": list(SCHEMAS), "min_pages": policy.min_index_pages},
    )


def reindex_bloated(conn: psycopg.Connection, policy: UpkeepPolicy = UpkeepPolicy()) -> list[dict[str, Any]]:
    done = []
    for ix in index_bloat(conn, policy):
        if ix["bloat"] < policy.max_bloat:
            continue
        schema, name = ix["index"].split(".", 1)
        conn.execute(sql.SQL("REINDEX INDEX CONCURRENTLY {}.{}").format(sql.Identifier(schema), sql.Identifier(name)))
        after = conn.execute("SELECT pg_relation_size(%s::regclass), relpages FROM pg_class WHERE oid = %s::regclass",
                             (ix["index"], ix["index"])).fetchone()
        done.append({"index": ix["index"], "bloat_before": ix["bloat"], "bytes_before": ix["bytes"],
                     "bytes_after": after[0], "pages_before": ix["pages"]})
    return done


def purge_raw_events(conn: psycopg.Connection, keep_months: int = UpkeepPolicy.keep_months,
                     today: date | None = None) -> list[dict[str, Any]]:
    """Delete raw events of whole months older than ``keep_months`` months; one row per table x month."""
    today = today or date.today()
    first_kept = date(today.year, today.month, 1)
    for _ in range(keep_months - 1):
        first_kept = date(first_kept.year - (first_kept.month == 1), 12 if first_kept.month == 1 else first_kept.month - 1, 1)
    purged = []
    for table in RAW_TABLES:
        rel = sql.SQL(".").join(sql.Identifier(p) for p in table.split("."))
        months = conn.execute(sql.SQL(
            "SELECT date_trunc('month', event_date)::date AS m, count(*) FROM {} WHERE event_date < %s GROUP BY 1 ORDER BY 1"
        ).format(rel), (first_kept,)).fetchall()
        for month, rows in months:
            nxt = date(month.year + (month.month == 12), 1 if month.month == 12 else month.month + 1, 1)
            deleted = conn.execute(sql.SQL("DELETE FROM {} WHERE event_date >= %s AND event_date < %s").format(rel),
                                   (month, nxt)).rowcount
            purged.append({"table": table, "month": month.isoformat()[:7], "rows": deleted or rows})
    return purged


def run_upkeep(conn: psycopg.Connection, policy: UpkeepPolicy = UpkeepPolicy(), today: date | None = None) -> dict[str, Any]:
    """The whole job, in the order that makes each step's figures right: purge, vacuum, reindex, analyze."""
    purged = purge_raw_events(conn, policy.keep_months, today)
    vacuumed = vacuum_dead(conn, policy)
    reindexed = reindex_bloated(conn, policy)
    analyzed = analyze(conn)
    return {"purged": purged, "vacuumed": vacuumed, "reindexed": reindexed, "analyzed": analyzed}
