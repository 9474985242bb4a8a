"""A second engine checks the first: a day's views, unique visitors and revenue, recomputed from
the landed files with duckdb and compared with the marts (PostgreSQL + dbt).

``recount_day`` reads the day's landing folder (``landing/events/<day>/<tenant>/``) with duckdb
alone — JSONL and CSV as text lines (``read_text``), Parquet with ``read_parquet`` — and counts per
article and per niche. ``compare_with_marts`` sets that against ``marts.fct_article_daily_performance``
and ``marts.fct_niche_revenue_daily``: an empty list is an exact match, otherwise one dict per
difference (level, tenant, niche, article, measure, marts, files).

Which rows count. Ingest rejects rows by the polars rules of ``validation.py`` (timestamps, tenant,
article, lengths, ranges, currencies...) and loads a repeated (tenant, event id) once. Writing those
rules a second time in duckdb SQL would give two contracts that drift apart, and a difference
between them would fail the check for a reason nobody can act on; calling the polars rules here
would make the "second engine" the first one again. So the recount takes what ingest *recorded*:
the lines it rejected (``raw.rejected_events``: file and line) and the files it refused as a whole
(``raw.ingested_files.status = 'rejected'``) are left out, and a repeated (tenant, event id) keeps
its first occurrence by file and line, as ingest documents. Everything else — reading the files,
resolving URLs to articles, trimming, converting currencies, counting distinct visitors, summing
per article and niche — is done independently here; so is a file-level cross-check that duckdb
read as many rows per file as ingest did, and kept as many as ingest loaded (a file that landed
after the load, or a reader disagreement, shows up as a "file" difference).

One CSV record per line, as the contract says (a quoted field spanning lines is not supported by
either engine); quoted CSV fields are split with a regular expression that honours ``""``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from allixios.analytics import currency, schemas
from allixios.analytics.ingest import _landing_files, day_folder

MEASURES = ("views", "unique_visitors", "revenue_usd")
# a CSV field: quoted (doubled quotes inside) or anything up to the next comma
_CSV_FIELD = r'("(?:[^"]|"")*"|[^,]*),'


@dataclass(frozen=True)
class Recount:
    articles: list[dict[str, Any]]  # tenant_id, niche_id, article_id, views, unique_visitors, revenue_usd
    niches: list[dict[str, Any]]  # tenant_id, niche_id, views, unique_visitors, revenue_usd
    files: list[dict[str, Any]]  # source_file, kind, rows_read, rows_kept (duckdb's count)
    unreadable: list[str]  # files ingest read but duckdb could not (each also a "file" difference)


def _duckdb():
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET threads = 1")  # a check beside the pipeline: one core is plenty for a day
    return con


def recount_day(conn: psycopg.Connection, day: date, root: Path | None = None) -> Recount:
    """The day's figures per article and niche, counted by duckdb from the landed files."""
    folder = day_folder(day, root)
    landed = _landing_files(folder) if folder.is_dir() else []
    con = _duckdb()
    unreadable: list[str] = []
    try:
        _load_reference(con, conn, day)
        refused = {(k, name) for k, name in con.execute("SELECT kind, source_file FROM rejected_files").fetchall()}
        page_parts, revenue_parts = [], []
        for order, f in enumerate(landed):
            kind, fmt = schemas.kind_of(f.path), schemas.format_of(f.path)
            if f.problem or kind is None or fmt is None or (kind, f.source_file) in refused:
                continue  # ingest refused these as whole files; so does the recount
            columns = schemas.SCHEMAS[kind].columns
            try:
                select = _records(con, f.path, fmt, columns, order)
                if select is not None:
                    con.execute(f"SELECT count(*) FROM ({select})").fetchone()
            except Exception as exc:  # noqa: BLE001 - a file duckdb cannot read is a finding, not a crash
                con.execute("INSERT INTO file_counts VALUES (?, ?, 0, 0)", [f.source_file, kind])
                unreadable.append(f"{f.source_file}: {str(exc).splitlines()[0]}")
                continue
            if select is None:
                continue
            part = f"SELECT {order} AS file_order, '{_q(f.source_file)}' AS source_file, '{_q(f.tenant_slug)}' AS feed, * FROM ({select})"
            (page_parts if kind == schemas.PAGE else revenue_parts).append(part)
        _kept(con, "page", page_parts, schemas.PAGE_SCHEMA.columns)
        _kept(con, "revenue", revenue_parts, schemas.REVENUE_SCHEMA.columns)
        con.execute(
            """CREATE TABLE page_facts AS
               SELECT p.*, coalesce(a1.article_id, a2.article_id) AS article, coalesce(a1.niche_id, a2.niche_id) AS niche
               FROM page_kept p
               JOIN tenants t ON t.slug = p.feed
               LEFT JOIN articles a1 ON p.article_id IS NOT NULL AND a1.article_id = lower(p.article_id)
                                    AND a1.tenant_id = t.tenant_id
               LEFT JOIN articles a2 ON p.article_id IS NULL AND a2.tenant_id = t.tenant_id
                                    AND a2.slug = lower(string_split(rtrim(regexp_replace(p.url, '[?#].*$', ''), '/'), '/')[-1])"""
        )
        con.execute(
            """CREATE TABLE revenue_facts AS
               SELECT r.*, a.article_id AS article, a.niche_id AS niche,
                      -- as ingest stores it: the float product, written as text, into numeric(14,6)
                      CAST(CAST(CAST(r.amount AS DOUBLE) * x.usd_per_unit AS VARCHAR) AS DECIMAL(14, 6)) AS amount_usd
               FROM revenue_kept r
               JOIN tenants t ON t.slug = r.feed
               JOIN articles a ON a.article_id = lower(r.article_id) AND a.tenant_id = t.tenant_id
               JOIN rates x ON x.code = upper(r.currency)"""
        )
        articles = _dicts(con, """
            WITH v AS (SELECT article, any_value(niche) AS niche, count(*) AS views,
                              count(DISTINCT visitor_hash) AS unique_visitors
                       FROM page_facts WHERE article IS NOT NULL GROUP BY article),
                 r AS (SELECT article, any_value(niche) AS niche, sum(amount_usd) AS revenue_usd
                       FROM revenue_facts GROUP BY article)
            SELECT a.tenant_id, coalesce(v.niche, r.niche) AS niche_id, coalesce(v.article, r.article) AS article_id,
                   coalesce(v.views, 0) AS views, coalesce(v.unique_visitors, 0) AS unique_visitors,
                   coalesce(r.revenue_usd, 0) AS revenue_usd
            FROM v FULL JOIN r ON r.article = v.article
            JOIN articles a ON a.article_id = coalesce(v.article, r.article)
            ORDER BY 1, 2, 3""")
        niches = _dicts(con, """
            WITH v AS (SELECT a.tenant_id, coalesce(niche, '') AS niche, count(*) AS views,
                              count(DISTINCT visitor_hash) AS unique_visitors
                       FROM page_facts p JOIN articles a ON a.article_id = p.article
                       GROUP BY 1, 2),
                 r AS (SELECT a.tenant_id, coalesce(niche, '') AS niche, sum(amount_usd) AS revenue_usd
                       FROM revenue_facts f JOIN articles a ON a.article_id = f.article GROUP BY 1, 2)
            SELECT coalesce(v.tenant_id, r.tenant_id) AS tenant_id, nullif(coalesce(v.niche, r.niche), '') AS niche_id,
                   coalesce(v.views, 0) AS views, coalesce(v.unique_visitors, 0) AS unique_visitors,
                   coalesce(r.revenue_usd, 0) AS revenue_usd
            FROM v FULL JOIN r ON r.tenant_id = v.tenant_id AND r.niche = v.niche
            ORDER BY 1, 2""")
        files = _dicts(con, """
            SELECT source_file, kind, sum(rows_read)::BIGINT AS rows_read, sum(rows_kept)::BIGINT AS rows_kept
            FROM file_counts GROUP BY 1, 2 ORDER BY 1, 2""")
        return Recount(articles, niches, files, unreadable)
    finally:
        con.close()


def _q(text: str) -> str:
    return text.replace("'", "''")


def _load_reference(con, conn: psycopg.Connection, day: date) -> None:
    """What the recount needs from PostgreSQL besides the files: the tenants and articles (to
    resolve URLs and niches), and what ingest recorded as rejected for the day."""
    import pyarrow as pa

    def table(name: str, sql: str, params: tuple, names: list[str]) -> None:
        rows = conn.execute(sql, params).fetchall()
        arrow = pa.table({n: pa.array([r[i] for r in rows], type=pa.string() if n != "line_number" else pa.int64())
                          for i, n in enumerate(names)})
        con.register(f"{name}_arrow", arrow)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        con.unregister(f"{name}_arrow")

    table("tenants", "SELECT id::text, slug FROM tenants", (), ["tenant_id", "slug"])
    table("articles", "SELECT id::text, tenant_id::text, niche_id::text, slug FROM articles", (),
          ["article_id", "tenant_id", "niche_id", "slug"])
    table("rejected_lines",
          "SELECT kind, source_file, line_number FROM raw.rejected_events WHERE event_date = %s AND line_number IS NOT NULL",
          (day,), ["kind", "source_file", "line_number"])
    table("rejected_files",
          "SELECT kind, source_file FROM raw.ingested_files WHERE event_date = %s AND status = 'rejected'",
          (day,), ["kind", "source_file"])
    con.execute("CREATE TABLE rates (code VARCHAR, usd_per_unit DOUBLE)")
    con.executemany("INSERT INTO rates VALUES (?, ?)", list(currency.USD_PER_UNIT.items()))
    con.execute("CREATE TABLE file_counts (source_file VARCHAR, kind VARCHAR, rows_read BIGINT, rows_kept BIGINT)")


def _text_lines(con, path: Path, order: int) -> str:
    """A table of the text file's non-blank lines with their 1-based line numbers, read by duckdb.

    A file with bytes that are not UTF-8 makes duckdb's ``read_text`` refuse it as a whole; ingest
    rejected exactly those lines, so its lines are then split here with the bad bytes replaced (the
    lines that hold them are among the rejected ones and are left out anyway)."""
    name = f"lines_{order}"
    numbered = """
        SELECT line_number, CASE WHEN line_number = 1 THEN ltrim(rtrim(raw, chr(13)), chr(65279))
                                 ELSE rtrim(raw, chr(13)) END AS line
        FROM (SELECT unnest(generate_series(1, len(ls))) AS line_number, unnest(ls) AS raw FROM (%s))"""
    try:
        source = f"SELECT string_split(content, chr(10)) AS ls FROM read_text('{_q(str(path))}')"
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM ({numbered % source}) WHERE trim(line) <> ''")
    except Exception:  # noqa: BLE001 - duckdb's InvalidInputException for text that is not UTF-8
        text = path.read_bytes().decode("utf-8", errors="replace")
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM ({numbered % 'SELECT string_split(?, chr(10)) AS ls'}) "
                    "WHERE trim(line) <> ''", [text])
    return name


def _records(con, path: Path, fmt: str, columns: tuple[str, ...], order: int) -> str | None:
    """A SELECT of the file's records: line_number plus one text column per contract column."""
    if fmt == "jsonl":
        # a line that is not JSON is still a record read (ingest rejected it: it is left out by line)
        fields = ", ".join(f"CASE WHEN json_valid(line) THEN json_extract_string(line, '$.{c}') END AS {c}"
                           for c in columns)
        return f"SELECT line_number, {fields} FROM {_text_lines(con, path, order)}"
    if fmt == "csv":
        lines = _text_lines(con, path, order)
        first = con.execute(f"SELECT line FROM {lines} ORDER BY line_number LIMIT 1").fetchone()
        if first is None:
            return None
        header = [h.strip().lower() for h in _split_csv_header(first[0])]

        def field(c: str) -> str:
            if c not in header:
                return f"NULL::VARCHAR AS {c}"
            i = header.index(c) + 1
            return (f"CASE WHEN starts_with(f[{i}], '\"') THEN replace(f[{i}][2:-2], '\"\"', '\"') "
                    f"ELSE f[{i}] END AS {c}")

        return f"""
            SELECT line_number, {", ".join(field(c) for c in columns)}
            FROM (SELECT line_number, regexp_extract_all(line || ',', '{_CSV_FIELD}', 1) AS f
                  FROM {lines} WHERE line_number > (SELECT min(line_number) FROM {lines}))"""
    if fmt == "parquet":
        source = f"read_parquet('{_q(str(path))}', file_row_number = true)"
        present = {name.strip().lower(): name for (name, *_rest) in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        fields = ", ".join(f'CAST("{present[c]}" AS VARCHAR) AS {c}' if c in present else f"NULL::VARCHAR AS {c}"
                           for c in columns)
        return f"SELECT file_row_number + 1 AS line_number, {fields} FROM {source}"
    return None


def _split_csv_header(line: str) -> list[str]:
    import csv

    return next(csv.reader([line]))


def _kept(con, kind: str, parts: list[str], columns: tuple[str, ...]) -> None:
    """``<kind>_kept``: the records ingest accepted, trimmed (empty = null), first of each (tenant, event id)."""
    typed = ", ".join(f"NULL::VARCHAR AS {c}" for c in columns)
    union = " UNION ALL ".join(parts) if parts else (
        f"SELECT 0 AS file_order, '' AS source_file, '' AS feed, 0::BIGINT AS line_number, {typed} WHERE false")
    trimmed = ", ".join(f"nullif(trim({c}), '') AS {c}" for c in columns)
    con.execute(f"CREATE TABLE {kind}_read AS SELECT file_order, source_file, feed, line_number, {trimmed} FROM ({union})")
    con.execute(f"""
        CREATE TABLE {kind}_kept AS
        SELECT * FROM (
            SELECT r.*, row_number() OVER (PARTITION BY r.feed, r.event_id ORDER BY r.file_order, r.line_number) AS copy
            FROM {kind}_read r
            WHERE NOT EXISTS (SELECT 1 FROM rejected_files x WHERE x.kind = '{kind}' AND x.source_file = r.source_file)
              AND NOT EXISTS (SELECT 1 FROM rejected_lines x WHERE x.kind = '{kind}' AND x.source_file = r.source_file
                              AND x.line_number = r.line_number)
        ) WHERE copy = 1""")
    con.execute(f"""
        INSERT INTO file_counts
        SELECT r.source_file, '{kind}', count(*), count(k.line_number)
        FROM {kind}_read r LEFT JOIN {kind}_kept k ON k.source_file = r.source_file AND k.line_number = r.line_number
        GROUP BY r.source_file""")


def _dicts(con, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# Imported money (affiliate orders net of reversals, ad revenue: `allixios ingest affiliate|ad-revenue`)
# is in the revenue marts but in no event file. Those imports reconcile their own files
# (raw.import_files), so the check compares the event feed's share of the marts: the imported
# amounts, booked as stg_affiliate_orders / stg_ad_revenue book them, are taken off the marts side.
_IMPORTED_REVENUE = """
    WITH affiliate AS (
        SELECT o.tenant_id, o.article_id, coalesce(s.day, o.day) AS day,
               CASE WHEN o.status = 'declined' THEN 0 ELSE o.commission_usd END AS usd
        FROM raw.affiliate_orders o
        LEFT JOIN raw.affiliate_orders s ON o.entry = 'reversal' AND s.entry = 'sale'
                                        AND s.tenant_id = o.tenant_id AND s.order_id = o.order_id
        WHERE o.article_id IS NOT NULL),
    imported AS (
        SELECT tenant_id, article_id, day, usd FROM affiliate
        UNION ALL
        SELECT tenant_id, article_id, day, revenue_usd FROM raw.ad_revenue WHERE article_id IS NOT NULL)
    SELECT i.article_id::text, a.tenant_id::text, a.niche_id::text, sum(i.usd)
    FROM imported i JOIN articles a ON a.id = i.article_id
    WHERE i.day = %s GROUP BY 1, 2, 3"""


def _without_imports(rows: list[tuple], imported: dict, key) -> list[tuple]:
    """Marts rows (…, views, unique_visitors, revenue_usd) with the imported revenue taken off."""
    return [(*r[:-1], r[-1] - imported.get(key(r), 0)) for r in rows]


def compare_with_marts(conn: psycopg.Connection, day: date, recount: Recount) -> list[dict[str, Any]]:
    """Every difference between the recount and the marts for ``day`` (empty: exact match)."""
    imported_rows = conn.execute(_IMPORTED_REVENUE, (day,)).fetchall()
    by_article = {r[0]: r[3] for r in imported_rows}
    by_niche: dict = {}
    for _, tenant, niche, usd in imported_rows:
        by_niche[(tenant, niche)] = by_niche.get((tenant, niche), 0) + usd
    marts_articles = _without_imports(conn.execute(
        """SELECT tenant_id::text, niche_id::text, article_id::text, views, unique_visitors, revenue_usd
           FROM marts.fct_article_daily_performance WHERE day = %s""", (day,)).fetchall(), by_article, lambda r: r[2])
    marts_niches = _without_imports(conn.execute(
        """SELECT tenant_id::text, niche_id::text, views, unique_visitors, revenue_usd
           FROM marts.fct_niche_revenue_daily WHERE day = %s""", (day,)).fetchall(), by_niche, lambda r: (r[0], r[1]))
    files = conn.execute(
        """SELECT source_file, kind, rows_read, rows_loaded FROM raw.ingested_files
           WHERE event_date = %s AND status <> 'rejected'""", (day,)).fetchall()
    differences: list[dict[str, Any]] = []

    def diff(level: str, key: dict, marts: dict | None, files_: dict | None) -> None:
        for m in MEASURES:
            a = (marts or {}).get(m) or 0
            b = (files_ or {}).get(m) or 0
            if a != b:
                differences.append({"level": level, **key, "measure": m, "marts": a, "files": b})

    def keyed(rows, key_len):
        return {tuple(r[:key_len]): dict(zip(MEASURES, r[key_len:], strict=True)) for r in rows}

    m_art = keyed([r[2:] for r in marts_articles], 1)
    tenants_of = {r[2]: (r[0], r[1]) for r in marts_articles}
    f_art = {(r["article_id"],): r for r in recount.articles}
    for r in recount.articles:
        tenants_of.setdefault(r["article_id"], (r["tenant_id"], r["niche_id"]))
    for key in sorted(set(m_art) | set(f_art)):
        tenant, niche = tenants_of[key[0]]
        diff("article", {"tenant_id": tenant, "niche_id": niche, "article_id": key[0]}, m_art.get(key), f_art.get(key))
    m_niche = keyed(marts_niches, 2)
    f_niche = {(r["tenant_id"], r["niche_id"]): r for r in recount.niches}
    for key in sorted(set(m_niche) | set(f_niche), key=lambda k: (k[0], k[1] or "")):
        diff("niche", {"tenant_id": key[0], "niche_id": key[1], "article_id": None}, m_niche.get(key), f_niche.get(key))
    ingested = {(r[0], r[1]): (r[2], r[3]) for r in files}
    counted = {(r["source_file"], r["kind"]): (r["rows_read"], r["rows_kept"]) for r in recount.files}
    for key in sorted(set(ingested) | set(counted)):
        (read_i, loaded_i), (read_d, kept_d) = ingested.get(key, (0, 0)), counted.get(key, (0, 0))
        for measure, a, b in (("rows_read", read_i, read_d), ("rows_loaded", loaded_i, kept_d)):
            if a != b:
                differences.append({"level": "file", "tenant_id": None, "niche_id": None, "article_id": key[0],
                                    "measure": f"{key[1]} {measure}", "marts": a, "files": b})
    return differences


def check_day(conn: psycopg.Connection, day: date, root: Path | None = None) -> tuple[list[dict[str, Any]], Recount]:
    """Recount ``day`` from the files and compare: (differences, the recount)."""
    recount = recount_day(conn, day, root)
    return compare_with_marts(conn, day, recount), recount
