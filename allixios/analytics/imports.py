"""Load the exports of the tools teams use (Search Console, GA4, Plausible, affiliate and ad
networks) from ``landing/<kind>/<tenant>/`` into ``raw.*`` with COPY.

The contracts are in ``import_contracts``; the files are read by the one event-file reader
(``reading.read_event_file``) and numbers by ``numbers`` (a file's locale).

``import_kind`` replaces, per tenant folder, everything that tenant's folder of the kind loaded
before (rows, rejections, file records) with what the folder holds now, inside the caller's
transaction: a re-run is idempotent, and a tenant's run never touches another tenant's rows.

Reconciliation per file in ``raw.import_files``: rows_read = rows_loaded + rows_rejected +
rows_duplicate. A row repeating another's key (``Shape.key``) within the tenant's files is a
duplicate: the first occurrence by file path and line loads (affiliate orders: the last, so a
later export's status supersedes an earlier one). A file that cannot be read, lacks a contract
column or mixes number locales is rejected whole with one reason (its rows counted rejected);
one bad row costs only that row; a page that maps to no article loads with a null article
(unattributed), never dropped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl
import psycopg

from allixios import settings
from allixios.analytics import currency, numbers
from allixios.analytics.import_contracts import (
    AD_REVENUE,
    AFFILIATE,
    GA4,
    KINDS,
    PLAUSIBLE,
    SEARCH_CONSOLE,
    STATUS_OF,
    ImportKind,
    Shape,
)
from allixios.analytics.ingest import _landing_files, _safe_text, _sha256, copy_frame, reconciliation
from allixios.analytics.reading import ERROR, LINE, RAW, UnreadableFile, first_line, read_event_file
from allixios.analytics.schemas import FORMATS
from allixios.analytics.validation import Lookups, _text_rules, parse_timestamp, storable, url_slug
from allixios.errors import ValidationError

LOAD_COLUMNS: dict[str, tuple[str, ...]] = {
    "search_console": ("tenant_id", "day", "page", "query", "country", "device", "search_type", "article_id",
                       "clicks", "impressions", "ctr", "position", "source_file", "line_number"),
    "ga4_events": ("tenant_id", "row_key", "day", "event_ts", "event_name", "user_pseudo_id", "session_id", "page",
                   "article_id", "engagement_time_s", "device", "country", "traffic_source", "source_file",
                   "line_number"),
    "traffic_pages": ("tool", "tenant_id", "day", "page", "article_id", "views", "visitors", "visits", "avg_time_s",
                      "bounce_rate", "source_file", "line_number"),
    "affiliate_orders": ("tenant_id", "order_id", "entry", "status", "day", "page", "article_id", "network",
                         "commission", "currency", "usd_per_unit", "commission_usd", "source_file", "line_number"),
    "ad_revenue": ("tenant_id", "day", "page", "network", "article_id", "revenue", "currency", "usd_per_unit",
                   "revenue_usd", "impressions", "clicks", "source_file", "line_number"),
}
REJECTED_COLUMNS = ("kind", "tenant", "source_file", "line_number", "raw_record", "reason")
FILE_INDEX = "_file"


@dataclass
class ImportFileReport:
    kind: str
    tenant: str
    source_file: str
    file_format: str
    shape: str | None = None
    sha256: str = ""
    bytes: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    status: str = "loaded"
    error: str | None = None


def kind_root(kind: ImportKind) -> Path:
    return settings.landing_dir(kind.folder)


def tenant_folder(kind_name: str, tenant_slug: str, root: Path | None = None) -> Path:
    """Where a tenant's files of the kind land: their rows are bound to that tenant."""
    return (root or kind_root(KINDS[kind_name])) / tenant_slug


def _tables(kind: ImportKind) -> list[str]:
    return sorted({s.table for s in kind.shapes})


def import_kind(
    conn: psycopg.Connection,
    kind_name: str,
    tenant: str | None = None,
    root: Path | None = None,
    decimal: str | None = None,
    rates_root: Path | None = None,
) -> dict[str, Any]:
    """Replace each tenant folder's rows of the kind (only ``tenant``'s when given) with what the
    folder holds now; returns the per-file reconciliation. The caller owns the transaction."""
    if kind_name not in KINDS:
        raise ValidationError(f"unknown import kind {kind_name!r}", fix=f"use one of {', '.join(KINDS)}")
    if decimal is not None and decimal not in numbers.DECIMAL_MARKS:
        raise ValidationError(f"--decimal {decimal!r} is not a decimal mark", fix="use --decimal point or --decimal comma")
    kind = KINDS[kind_name]
    base = root or kind_root(kind)
    summary: dict[str, Any] = {"kind": kind.name, "folder": str(base), "folder_found": base.is_dir(), "tenants": {},
                               "files": []}
    if not base.is_dir():
        return summary
    by_tenant: dict[str, list] = defaultdict(list)
    for landed in _landing_files(base):
        by_tenant[landed.tenant_slug].append(landed)
    if tenant is not None:
        by_tenant = {tenant: by_tenant.get(tenant, [])} if tenant in by_tenant else {}
        summary["folder_found"] = bool(by_tenant)
    tenant_ids = dict(conn.execute("SELECT slug, id::text FROM tenants").fetchall())
    lookups = Lookups.load(conn)
    rates = currency.daily_rates(rates_root) if kind.name in (AFFILIATE, AD_REVENUE) else None
    for slug in sorted(by_tenant):  # one lock order for every caller: no deadlock
        reports, reasons = _import_tenant(conn, kind, slug, tenant_ids.get(slug), by_tenant[slug], lookups, rates,
                                          decimal)
        summary["tenants"][slug] = reconciliation(reports, reasons)
        summary["files"] += [asdict(r) for r in reports]
    return summary


def _import_tenant(conn, kind: ImportKind, slug: str, tenant_id: str | None, files: list, lookups: Lookups,
                   rates: pl.DataFrame | None, decimal: str | None) -> tuple[list[ImportFileReport], Counter]:
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"allixios.import:{kind.name}:{slug}",))
    if tenant_id is not None:
        for table in _tables(kind):
            extra = " AND tool = %s" if table == "traffic_pages" else ""
            params = (tenant_id, kind.name) if extra else (tenant_id,)
            conn.execute(f"DELETE FROM raw.{table} WHERE tenant_id = %s{extra}", params)  # noqa: S608 - fixed names
    conn.execute("DELETE FROM raw.import_rejections WHERE kind = %s AND tenant = %s", (kind.name, slug))
    conn.execute("DELETE FROM raw.import_files WHERE kind = %s AND tenant = %s", (kind.name, slug))

    reports: list[ImportFileReport] = []
    rejected: list[pl.DataFrame] = []
    valid: dict[Shape, list[pl.DataFrame]] = defaultdict(list)
    for index, landed in enumerate(files):
        path, source_file = landed.path, landed.source_file
        fmt = FORMATS.get(path.suffix.lower())
        report = ImportFileReport(kind.name, slug, source_file, fmt or path.suffix.lstrip(".").lower() or "unknown")
        reports.append(report)
        try:
            if landed.problem:
                raise UnreadableFile(landed.problem)
            report.bytes, report.sha256 = path.stat().st_size, _sha256(path)
            if tenant_id is None:
                raise UnreadableFile(f"folder {slug!r} names no tenant: land a tenant's files in "
                                     f"{kind.folder}/<tenant slug>/")
            schema = kind.schemas.get(fmt) if fmt else None
            if schema is None:
                raise UnreadableFile(f"unsupported file type {path.suffix or '(none)'} for {kind.title}: use "
                                     f"{' or '.join('.' + f for f in kind.schemas)}")
            parsed = read_event_file(path, fmt, schema)
            frame = parsed.frame
            present = _present_columns(frame, parsed.missing, schema.columns, fmt)
            if "currency" in schema.columns and "currency" not in present:
                # an ad/affiliate report that writes its currency in the money column's name
                # ("Estimated earnings (EUR)"): that currency for every row
                units = {schema.unit_of(c) for c in _written_columns(path, fmt, schema)
                         if schema.canonical(c) in ("revenue", "commission")} - {None}
                if len(units) == 1:
                    frame = frame.with_columns(pl.lit(units.pop()).alias("currency"))
                    present.add("currency")
            shape = kind.shape_for(fmt, present)
            report.shape = shape.name
            absent = [c for c in shape.required if c not in present]
            if absent:
                raise UnreadableFile(_missing_message(kind, shape, absent, path, fmt, schema), frame.height)
            try:
                mark = numbers.decimal_mark(frame, list(shape.numeric), decimal)
            except numbers.MixedLocales as exc:
                raise UnreadableFile(str(exc), frame.height) from None
            good, bad = _prepare(kind, shape, frame, schema.columns, tenant_id, lookups, rates, mark)
        except Exception as exc:  # noqa: BLE001 - one bad file must never cost the other files
            reason = _safe_text(str(exc) if isinstance(exc, UnreadableFile) else (
                f"file could not be processed ({type(exc).__name__}: {first_line(exc)})"))
            report.status, report.error = "rejected", reason
            report.rows_read = report.rows_rejected = exc.rows if isinstance(exc, UnreadableFile) else 0
            rejected.append(_rejection_rows(kind, slug, pl.DataFrame({
                "source_file": [source_file], "line_number": [None], "raw_record": [None], "reason": [reason]},
                schema={"source_file": pl.String, "line_number": pl.Int64, "raw_record": pl.String,
                        "reason": pl.String})))
            continue
        report.rows_read = frame.height
        tag = [pl.lit(index).alias(FILE_INDEX), pl.lit(source_file).alias("source_file")]
        valid[shape].append(good.with_columns(tag))
        rejected.append(_rejection_rows(kind, slug, bad.with_columns(tag)))

    loaded = Counter()
    duplicates = Counter()
    for shape, frames in valid.items():
        rows = pl.concat(frames, how="vertical_relaxed").sort(FILE_INDEX, LINE)
        keep = pl.struct(list(shape.key)).is_last_distinct() if kind.keep == "last" else (
            pl.struct(list(shape.key)).is_first_distinct())
        unique = rows.filter(keep)
        duplicates.update(dict(rows.filter(~keep).group_by("source_file").len().iter_rows()))
        if shape.table == "affiliate_orders":
            unique, refused = _resolve_reversals(unique)
            if refused.height:
                rejected.append(_rejection_rows(kind, slug, refused))
        loaded.update(dict(unique.group_by("source_file").len().iter_rows()))
        out = unique.with_columns(pl.col(LINE).alias("line_number"), pl.lit(tenant_id).alias("tenant_id"))
        if shape.table == "traffic_pages":
            out = out.with_columns(pl.lit(kind.name).alias("tool"))
        copy_frame(conn, f"raw.{shape.table}", LOAD_COLUMNS[shape.table], out.select(LOAD_COLUMNS[shape.table]))

    reasons: Counter = Counter()
    if rejected:
        everything = pl.concat(rejected, how="vertical_relaxed")
        if everything.height:
            copy_frame(conn, "raw.import_rejections", REJECTED_COLUMNS, everything.select(REJECTED_COLUMNS))
            reasons.update(dict(everything.group_by("reason").len().iter_rows()))
            row_rejects = Counter(dict(everything.filter(pl.col("line_number").is_not_null())
                                       .group_by("source_file").len().iter_rows()))
        else:
            row_rejects = Counter()
    else:
        row_rejects = Counter()
    for report in reports:
        if report.status == "rejected":
            continue
        report.rows_loaded = loaded[report.source_file]
        report.rows_duplicate = duplicates[report.source_file]
        report.rows_rejected = row_rejects[report.source_file]
        if report.rows_rejected:
            report.status = "partial"
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO raw.import_files (kind, tenant, source_file, file_format, shape, sha256, bytes, rows_read,
                   rows_loaded, rows_rejected, rows_duplicate, status, error)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [(r.kind, r.tenant, r.source_file, r.file_format, r.shape, r.sha256, r.bytes, r.rows_read, r.rows_loaded,
              r.rows_rejected, r.rows_duplicate, r.status, r.error) for r in reports],
        )
    return reports, reasons


def _rejection_rows(kind: ImportKind, slug: str, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        pl.lit(kind.name).alias("kind"), pl.lit(slug).alias("tenant"), pl.col("source_file").cast(pl.String),
        pl.col("line_number").cast(pl.Int64), pl.col("raw_record").cast(pl.String),
        storable("reason").alias("reason"),
    )


def _present_columns(frame: pl.DataFrame, missing: list[str], columns: tuple[str, ...], fmt: str) -> set[str]:
    if fmt == "jsonl":  # JSON lines name their keys per line: a column is there when some line has it
        return {c for c in columns if c in frame.columns and frame.get_column(c).null_count() < frame.height}
    return {c for c in columns if c not in missing}


def _missing_message(kind: ImportKind, shape: Shape, absent: list[str], path: Path, fmt: str, schema) -> str:
    written = _written_columns(path, fmt, schema)
    renamed = ", ".join(repr(c) for c in written if schema.canonical(c) not in schema.columns)
    return (f"file has no {' and no '.join(repr(c) for c in absent)} column: the {kind.title} contract "
            f"({shape.name} export) expects {', '.join(shape.required)}"
            + (f"; columns not in the contract: {renamed} (renamed? name them as the contract does)" if renamed else ""))


def _written_columns(path: Path, fmt: str, schema) -> list[str]:
    """The column names as the file writes them (for the message about a missing one)."""
    import csv
    import json

    try:
        if fmt == "parquet":
            return list(pl.read_parquet_schema(path))
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            for line in fh:
                if not line.strip() or (schema.comment_prefix and line.startswith(schema.comment_prefix)):
                    continue
                return next(csv.reader([line.strip()])) if fmt == "csv" else list(json.loads(line))
    except Exception:  # noqa: BLE001 - only for a message
        return []
    return []


# --- rows -------------------------------------------------------------------------------------

Rule = tuple[pl.Expr, Any]  # (row is bad when true, reason text or a text expression)


def _text(column: str) -> pl.Expr:
    value = pl.col(column).str.strip_chars()
    return pl.when(value == "").then(None).otherwise(value)


def _day(column: str) -> pl.Expr:
    """YYYY-MM-DD, YYYYMMDD (GA4) or an ISO 8601 timestamp / epoch (its UTC day)."""
    text = pl.col(column)
    return pl.coalesce(
        text.str.to_date("%Y-%m-%d", strict=False),
        pl.when(text.str.contains(r"^\d{8}$")).then(text.str.to_date("%Y%m%d", strict=False)),
        parse_timestamp(column).dt.date(),
    )


def _by_value(df: pl.DataFrame, column: str, **outputs: pl.Expr) -> pl.DataFrame:
    """``outputs`` of one column computed once per distinct value and joined back: exports repeat
    their dates and pages on every row, and parsing them is the cost."""
    values = df.select(pl.col(column).unique()).filter(pl.col(column).is_not_null()).with_columns(**outputs)
    return df.join(values, on=column, how="left")


def _dated(df: pl.DataFrame, column: str = "date") -> pl.DataFrame:
    return _by_value(df, column, _day=_day(column))


def _whole(column: str) -> tuple[pl.Expr, list[Rule]]:
    value = pl.col(f"{column}_n")
    return value.cast(pl.Int64, strict=False), [
        ((value < 0) | (value != value.floor()), pl.format("{} '{}' is not a whole number of 0 or more",
                                                           pl.lit(column), pl.col(column))),
    ]


def _fraction(column: str) -> tuple[pl.Expr, list[Rule]]:
    """A rate written as a fraction (0.123) or a percentage (12.3% / 12,3 %)."""
    value = pl.when(numbers.percent(column)).then(pl.col(f"{column}_n") / 100).otherwise(pl.col(f"{column}_n"))
    return value, [((value < 0) | (value > 1), pl.format("{} '{}' is not a fraction from 0 to 1 or a percentage",
                                                         pl.lit(column), pl.col(column)))]


def _seconds(column: str) -> pl.Expr:
    """Seconds as a number, or written as HH:MM:SS / MM:SS / "1m 05s"."""
    text = pl.col(column).str.replace_all(" ", "")
    hms = text.str.extract_groups(r"^(?:(\d+):)?(\d+):(\d{2})$")
    ms = text.str.extract_groups(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)$")
    return pl.coalesce(
        pl.col(f"{column}_n"),
        hms.struct.field("1").cast(pl.Float64).fill_null(0) * 3600 + hms.struct.field("2").cast(pl.Float64) * 60
        + hms.struct.field("3").cast(pl.Float64),
        pl.when(text.str.contains(r"\d[hms]$")).then(
            ms.struct.field("1").cast(pl.Float64).fill_null(0) * 3600
            + ms.struct.field("2").cast(pl.Float64).fill_null(0) * 60 + ms.struct.field("3").cast(pl.Float64)),
    )


def _prepare(kind: ImportKind, shape: Shape, frame: pl.DataFrame, columns: tuple[str, ...], tenant_id: str,
             lookups: Lookups, rates: pl.DataFrame | None, mark: str | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(valid rows with the table's columns and LINE, rejected rows with line, record and reason)."""
    df = frame.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in columns if c not in frame.columns])
    df = df.with_columns([_text(c).alias(c) for c in columns])
    rules: list[Rule] = list(_text_rules(df, tuple(c for c in columns if c != "event_params")))
    numeric = [c for c in shape.numeric if c in df.columns]
    df = numbers.parsed(df, numeric, mark)
    rules += [(pl.col(f"{c}_problem").is_not_null(), pl.col(f"{c}_problem")) for c in numeric]
    # a reversal may leave its amount out (it then offsets the whole sale): _affiliate checks sales
    optional = {"commission"} if kind.name == AFFILIATE else set()
    rules += [(pl.col(c).is_null(), f"missing {c}") for c in shape.required if c not in optional]
    prepare = {SEARCH_CONSOLE: _search_console, GA4: _ga4, PLAUSIBLE: _plausible, AFFILIATE: _affiliate,
               AD_REVENUE: _ad_revenue}[kind.name]
    df, specific, outputs = prepare(df, shape, tenant_id, lookups, rates)
    rules += specific
    bad = pl.any_horizontal([condition.fill_null(False) for condition, _ in rules]) | pl.col(ERROR).is_not_null()
    df = df.with_columns(bad.alias("_bad"))
    valid = df.filter(~pl.col("_bad")).select(pl.col(LINE), *[expr.alias(name) for name, expr in outputs.items()])
    rejected = df.filter(pl.col("_bad"))
    every_reason = pl.concat_str(
        [pl.when(condition.fill_null(False)).then(reason if isinstance(reason, pl.Expr) else pl.lit(reason))
         for condition, reason in rules],
        separator="; ", ignore_nulls=True,
    )
    raw = pl.coalesce(RAW, pl.struct(list(columns)).struct.json_encode())
    rejected = rejected.select(pl.col(LINE).alias("line_number"), raw.alias("raw_record"),
                               pl.coalesce(pl.col(ERROR), every_reason).alias("reason"))
    rejected = rejected.with_columns(storable("raw_record").alias("raw_record"))
    return valid, rejected


def _attributed(df: pl.DataFrame, tenant_id: str, lookups: Lookups, page: str = "page") -> pl.DataFrame:
    """``_article`` from the page's slug (null: the page is unattributed), ``_by_id`` from an
    article_id column when the row has one (null when it names no article of the tenant)."""
    articles = lookups.articles.filter(pl.col("article_tenant_id") == tenant_id)
    by_slug = articles.select(pl.col("slug").str.to_lowercase().alias("_slug"),
                              pl.col("article_key").alias("_article")).unique("_slug", keep="first")
    pages = df.select(pl.col(page).unique()).filter(pl.col(page).is_not_null())
    pages = pages.with_columns(url_slug(page).alias("_slug")).join(by_slug, on="_slug", how="left")
    df = df.join(pages, on=page, how="left")
    if "article_id" in df.columns:
        by_id = articles.select(pl.col("article_key").alias("_id_key"), pl.col("article_key").alias("_by_id"))
        df = df.with_columns(pl.col("article_id").str.to_lowercase().alias("_id_key")).join(by_id, on="_id_key",
                                                                                            how="left")
    return df


def _search_console(df, shape, tenant_id, lookups, rates):
    df = _attributed(_dated(df), tenant_id, lookups)
    clicks, clicks_rules = _whole("clicks")
    impressions, impression_rules = _whole("impressions")
    rules: list[Rule] = [
        (pl.col("date").is_not_null() & pl.col("_day").is_null(),
         pl.format("date '{}' is not YYYY-MM-DD or YYYYMMDD", pl.col("date"))),
        *clicks_rules, *impression_rules,
        (pl.col("clicks_n") > pl.col("impressions_n"), "more clicks than impressions"),
    ]
    impressions_f = pl.col("impressions_n")
    if shape.name == "bulk":
        position = pl.when(impressions_f > 0).then(pl.col("sum_position_n") / impressions_f + 1)
        rules.append((pl.col("sum_position_n") < 0, "sum_position below 0 (the bulk export's positions are zero-based)"))
        ctr = pl.when(impressions_f > 0).then(pl.col("clicks_n") / impressions_f)
        anonymized = pl.col("is_anonymized_query").str.to_lowercase().is_in(["true", "1"]).fill_null(False)
        query = pl.when(anonymized).then(pl.lit("")).otherwise(pl.col("query").fill_null(""))
    else:
        position = pl.col("position_n")
        rules.append((position < 1, pl.format("position '{}' below 1 (Search Console positions start at 1)",
                                              pl.col("position"))))
        given, ctr_rules = _fraction("ctr")
        rules += ctr_rules
        ctr = pl.coalesce(given, pl.when(impressions_f > 0).then(pl.col("clicks_n") / impressions_f))
        query = pl.col("query").fill_null("")
    outputs = {
        "day": pl.col("_day"), "page": pl.col("page"), "query": query,
        "country": pl.col("country").str.to_uppercase().fill_null(""),
        "device": pl.col("device").str.to_lowercase().fill_null(""),
        "search_type": pl.col("search_type").str.to_lowercase().fill_null("web"),
        "article_id": pl.col("_article"), "clicks": clicks, "impressions": impressions, "ctr": ctr,
        "position": position,
    }
    return df, rules, outputs


def _param(name: str, value: str = "string_value") -> pl.Expr:
    """One event parameter's value from GA4's key/value list (as JSON text), by regular expression:
    robust to key order and never raising on a damaged list."""
    pattern = (r'"key"\s*:\s*"' + name + r'"\s*,\s*"value"\s*:\s*\{[^}]*"' + value
               + (r'"\s*:\s*"((?:[^"\\]|\\.)*)"' if value == "string_value" else r'"\s*:\s*"?(-?\d+)"?'))
    return pl.col("event_params").str.extract(pattern, 1).str.replace_all(r"\/", "/", literal=True)


def _field(column: str, name: str) -> pl.Expr:
    return pl.col(column).str.extract(r'"' + name + r'"\s*:\s*"((?:[^"\\]|\\.)*)"', 1)


def _ga4(df, shape, tenant_id, lookups, rates):
    if shape.name == "ui_pages":
        # seconds, or HH:MM:SS (_seconds); a comma in seconds can only be a decimal mark
        seconds_text = pl.col("avg_time").str.replace(",", ".", literal=True)
        df = _attributed(_dated(df).with_columns(seconds_text.cast(pl.Float64, strict=False).alias("avg_time_n")),
                         tenant_id, lookups)
        views, rules = _whole("views")
        users, more = _whole("users")
        sessions, sessions_rules = _whole("sessions")
        bounce, bounce_rules = _fraction("bounce_rate")
        seconds = _seconds("avg_time")
        rules = [*rules, *more, *sessions_rules, *bounce_rules,
                 (pl.col("date").is_not_null() & pl.col("_day").is_null(),
                  pl.format("date '{}' is not YYYYMMDD or YYYY-MM-DD", pl.col("date"))),
                 (pl.col("avg_time").is_not_null() & (seconds.is_null() | (seconds < 0)),
                  pl.format("avg_time '{}' is not seconds or HH:MM:SS", pl.col("avg_time")))]
        outputs = {"day": pl.col("_day"), "page": pl.col("page"), "article_id": pl.col("_article"), "views": views,
                   "visitors": users, "visits": sessions, "avg_time_s": seconds, "bounce_rate": bounce}
        return df, rules, outputs
    micros = pl.col("event_timestamp").cast(pl.Int64, strict=False)
    df = df.with_columns(
        pl.when(pl.col("event_date").str.contains(r"^\d{8}$")).then(
            pl.col("event_date").str.to_date("%Y%m%d", strict=False)).alias("_day"),
        pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC").alias("_ts"),
        _param("page_location").alias("page"),
        _param("ga_session_id", "int_value").alias("_session"),
        _param("engagement_time_msec", "int_value").cast(pl.Int64, strict=False).alias("_engaged_ms"),
    )
    df = _attributed(df, tenant_id, lookups)
    rules = [
        (pl.col("event_date").is_not_null() & pl.col("_day").is_null(),
         pl.format("event_date '{}' is not YYYYMMDD", pl.col("event_date"))),
        (pl.col("event_timestamp").is_not_null() & (micros.is_null() | (micros < 0)),
         pl.format("event_timestamp '{}' is not microseconds since the epoch", pl.col("event_timestamp"))),
        (pl.col("_engaged_ms") < 0, "engagement_time_msec below 0"),
    ]
    outputs = {
        "row_key": pl.concat_str([pl.col("event_timestamp"), pl.col("user_pseudo_id").fill_null(""),
                                  pl.col("event_name"), pl.col("_session").fill_null("")], separator="|"),
        "day": pl.col("_day"), "event_ts": pl.col("_ts"), "event_name": pl.col("event_name"),
        "user_pseudo_id": pl.col("user_pseudo_id"), "session_id": pl.col("_session"), "page": pl.col("page"),
        "article_id": pl.col("_article"), "engagement_time_s": pl.col("_engaged_ms") / 1000,
        "device": _field("device", "category").str.to_lowercase(), "country": _field("geo", "country"),
        "traffic_source": _field("traffic_source", "source"),
    }
    return df, rules, outputs


def _plausible(df, shape, tenant_id, lookups, rates):
    df = _attributed(_dated(df), tenant_id, lookups)
    views, rules = _whole("pageviews")
    visitors, more = _whole("visitors")
    visits, visit_rules = _whole("visits")
    bounce, bounce_rules = _fraction("bounce_rate")
    total = pl.coalesce(pl.col("total_time_on_page_n"), pl.col("time_on_page_n"))
    rules = [*rules, *more, *visit_rules, *bounce_rules,
             (pl.col("date").is_not_null() & pl.col("_day").is_null(),
              pl.format("date '{}' is not YYYY-MM-DD", pl.col("date"))),
             (total < 0, "time on page below 0")]
    outputs = {"day": pl.col("_day"), "page": pl.col("page"), "article_id": pl.col("_article"), "views": views,
               "visitors": visitors, "visits": visits,
               "avg_time_s": pl.when(pl.col("pageviews_n") > 0).then(total / pl.col("pageviews_n")),
               "bounce_rate": bounce}
    return df, rules, outputs


def _with_rates(df: pl.DataFrame, rates: pl.DataFrame) -> tuple[pl.DataFrame, list[Rule]]:
    """``_rate``: USD per unit of the row's currency on its day (USD is 1)."""
    df = df.with_columns(pl.col("currency").str.to_uppercase().alias("_currency")).join(
        rates, left_on=["_day", "_currency"], right_on=["rate_day", "currency_code"], how="left"
    ).with_columns(pl.when(pl.col("_currency") == "USD").then(pl.lit(1.0)).otherwise(pl.col("usd_per_unit"))
                   .alias("_rate"))
    known = set(rates.get_column("currency_code").to_list()) | set(currency.USD_PER_UNIT)
    folder = f"{currency.RATES_FOLDER}/"
    code_ok = pl.col("_currency").str.contains(r"^[A-Z]{3}$")
    rules: list[Rule] = [
        (pl.col("currency").is_not_null() & ~code_ok,
         pl.format("currency '{}' is not a three-letter ISO 4217 code", pl.col("currency"))),
        (code_ok & pl.col("_day").is_not_null() & pl.col("_rate").is_null() & pl.col("_currency").is_in(list(known)),
         pl.format("no USD rate for {} on {}: add it to landing/{} (date,currency,usd_per_unit)",
                   pl.col("_currency"), pl.col("_day").cast(pl.String), pl.lit(folder))),
        (code_ok & pl.col("_rate").is_null() & ~pl.col("_currency").is_in(list(known)),
         pl.format("unknown currency {} (no rate for it in landing/{})", pl.col("_currency"), pl.lit(folder))),
    ]
    return df, rules


def _affiliate(df, shape, tenant_id, lookups, rates):
    status = pl.col("status").str.to_lowercase().replace_strict(STATUS_OF, default=None)
    df = _attributed(_dated(df).with_columns(status.alias("_status")), tenant_id, lookups)
    df = df.with_columns(pl.when(pl.col("_status") == "reversed").then(pl.lit("reversal")).otherwise(pl.lit("sale"))
                         .alias("_entry"))
    sale = pl.col("_entry") == "sale"
    df, rate_rules = _with_rates(df, rates)
    amount = pl.col("commission_n")
    rules: list[Rule] = [
        (pl.col("date").is_not_null() & pl.col("_day").is_null(),
         pl.format("date '{}' is not YYYY-MM-DD or an ISO 8601 timestamp", pl.col("date"))),
        (pl.col("status").is_not_null() & pl.col("_status").is_null(),
         pl.format("unknown status '{}' (pending, approved, declined or reversed)", pl.col("status"))),
        (sale & (amount < 0), "negative commission on a sale: a reversal is written with status reversed"),
        (sale & pl.col("commission").is_null(), "missing commission"),
        (sale & pl.col("currency").is_null(), "missing currency"),
        *[(sale & condition, reason) for condition, reason in rate_rules],
        (pl.col("article_id").is_not_null() & pl.col("_by_id").is_null(), "unknown article_id for this tenant"),
    ]
    outputs = {
        "order_id": pl.col("order_id"), "entry": pl.col("_entry"), "status": pl.col("_status"), "day": pl.col("_day"),
        "page": pl.col("page"), "article_id": pl.coalesce("_by_id", "_article"), "network": pl.col("network"),
        "commission": amount, "currency": pl.col("_currency"), "usd_per_unit": pl.col("_rate"),
        "commission_usd": (amount * pl.col("_rate")).round(6),
    }
    return df, rules, outputs


def _resolve_reversals(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A reversal offsets its sale: the sale's currency and rate, its article when the reversal
    names none, the sale's whole commission when the reversal gives no amount. A reversal without
    a sale (or of a declined one, or larger than it) is rejected with the reason."""
    sales = rows.filter(pl.col("entry") == "sale")
    reversals = rows.filter(pl.col("entry") == "reversal")
    if reversals.height == 0:
        return rows, pl.DataFrame()
    matched = reversals.join(
        sales.select("order_id", pl.col("status").alias("_sale_status"), pl.col("commission").alias("_sale_amount"),
                     pl.col("currency").alias("_sale_currency"), pl.col("usd_per_unit").alias("_sale_rate"),
                     pl.col("article_id").alias("_sale_article"), pl.col("page").alias("_sale_page")),
        on="order_id", how="left",
    )
    amount = pl.coalesce(pl.col("commission").abs(), pl.col("_sale_amount"))
    reason = (
        pl.when(pl.col("_sale_status").is_null())
        .then(pl.format("reversal of order '{}' that no sale row of this tenant's files holds: land the original "
                        "order's export too (or drop the reversal)", pl.col("order_id")))
        .when(pl.col("_sale_status") == "declined")
        .then(pl.format("reversal of declined order '{}': there is no commission to offset", pl.col("order_id")))
        .when(pl.col("currency").is_not_null() & (pl.col("currency") != pl.col("_sale_currency")))
        .then(pl.format("reversal of order '{}' in {} but the sale was in {}", pl.col("order_id"), pl.col("currency"),
                        pl.col("_sale_currency")))
        .when(amount > pl.col("_sale_amount") + 1e-9)
        .then(pl.format("reversal of order '{}' ({}) exceeds the sale's commission ({})", pl.col("order_id"), amount,
                        pl.col("_sale_amount")))
    )
    matched = matched.with_columns(reason.alias("reason"))
    refused = matched.filter(pl.col("reason").is_not_null()).select(
        pl.col(LINE).alias("line_number"), "source_file", FILE_INDEX,
        pl.struct("order_id", "status", "day", "commission", "currency").struct.json_encode().alias("raw_record"),
        "reason",
    )
    ok = matched.filter(pl.col("reason").is_null()).with_columns(
        (-amount).alias("commission"), pl.col("_sale_currency").alias("currency"),
        pl.col("_sale_rate").alias("usd_per_unit"), (-(amount * pl.col("_sale_rate")).round(6)).alias("commission_usd"),
        pl.coalesce("article_id", "_sale_article").alias("article_id"), pl.coalesce("page", "_sale_page").alias("page"),
    ).select(rows.columns)
    return pl.concat([sales, ok], how="vertical_relaxed"), refused


def _ad_revenue(df, shape, tenant_id, lookups, rates):
    df = _attributed(_dated(df), tenant_id, lookups)
    df, rate_rules = _with_rates(df, rates)
    impressions, rules = _whole("impressions")
    clicks, more = _whole("clicks")
    rules = [*rules, *more, *rate_rules,
             (pl.col("date").is_not_null() & pl.col("_day").is_null(),
              pl.format("date '{}' is not YYYY-MM-DD", pl.col("date"))),
             (pl.col("revenue_n") < 0, "negative revenue"),
             (pl.col("article_id").is_not_null() & pl.col("_by_id").is_null(), "unknown article_id for this tenant")]
    outputs = {
        "day": pl.col("_day"), "page": pl.col("page"), "network": pl.col("network").str.to_lowercase().fill_null("ads"),
        "article_id": pl.coalesce("_by_id", "_article"), "revenue": pl.col("revenue_n"), "currency": pl.col("_currency"),
        "usd_per_unit": pl.col("_rate"), "revenue_usd": (pl.col("revenue_n") * pl.col("_rate")).round(6),
        "impressions": impressions, "clicks": clicks,
    }
    return df, rules, outputs
