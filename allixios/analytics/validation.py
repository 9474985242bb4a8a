"""Validate parsed event records for one partition day, vectorized with polars.

Every rule adds a reason; a row with any reason is rejected with all of them joined by "; ".
Valid rows come out typed and in the column order of the raw tables. The rules and limits are the
documented contract (docs/areas/analytics.md, "Event files").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl

from allixios.analytics import currency, schemas
from allixios.analytics.reading import ERROR, LINE, RAW

TS_WITH_OFFSET = "%Y-%m-%dT%H:%M:%S%.f%#z"  # 2026-11-20T10:00:00Z, ...+01:00, ...+0000
TS_NAIVE = "%Y-%m-%dT%H:%M:%S%.f"  # no offset: read as UTC

PAGE_COLUMNS = (
    "event_id", "event_ts", "event_date", "tenant_id", "article_id", "url", "session_id", "visitor_hash",
    "referrer", "device", "country", "time_on_page_s", "scroll_depth", "source_file",
)
REVENUE_COLUMNS = (
    "event_id", "event_ts", "event_date", "tenant_id", "article_id", "source", "amount", "currency",
    "amount_usd", "source_file",
)
LOAD_COLUMNS = {schemas.PAGE: PAGE_COLUMNS, schemas.REVENUE: REVENUE_COLUMNS}


@dataclass(frozen=True)
class Lookups:
    """What rows are checked against: tenants by slug or id, articles by id and by (tenant, slug)."""

    tenants: pl.DataFrame  # tenant_key (slug or id text), tenant_id (text)
    articles: pl.DataFrame  # article_key (id text), article_tenant_id (text), slug

    @classmethod
    def load(cls, conn) -> Lookups:
        tenant_rows = conn.execute("SELECT id::text, slug FROM tenants").fetchall()
        tenants = pl.DataFrame(
            {
                "tenant_key": [r[1] for r in tenant_rows] + [r[0] for r in tenant_rows],
                "tenant_id": [r[0] for r in tenant_rows] * 2,
            },
            schema={"tenant_key": pl.String, "tenant_id": pl.String},
        )
        article_rows = conn.execute("SELECT id::text, tenant_id::text, slug FROM articles").fetchall()
        articles = pl.DataFrame(
            article_rows, schema={"article_key": pl.String, "article_tenant_id": pl.String, "slug": pl.String},
            orient="row",
        )
        return cls(tenants, articles)


def _text(column: str) -> pl.Expr:
    """Trimmed text, empty as null."""
    value = pl.col(column).str.strip_chars()
    return pl.when(value == "").then(None).otherwise(value)


def _number(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Float64, strict=False)


def parse_timestamp(column: str) -> pl.Expr:
    """ISO 8601 with an offset or Z; without one it is UTC; or epoch seconds / milliseconds."""
    text = pl.col(column)
    iso = text.str.replace(" ", "T", literal=True)
    digits = text.str.contains(r"^\d{9,13}$")
    epoch = text.cast(pl.Int64, strict=False)
    from_epoch = pl.when(digits & (text.str.len_chars() >= 12)).then(
        pl.from_epoch(epoch, time_unit="ms")
    ).when(digits).then(pl.from_epoch(epoch, time_unit="s"))
    return pl.coalesce(
        iso.str.to_datetime(TS_WITH_OFFSET, strict=False, time_zone="UTC", time_unit="us"),
        iso.str.to_datetime(TS_NAIVE, strict=False, time_unit="us").dt.replace_time_zone("UTC"),
        from_epoch.dt.cast_time_unit("us").dt.replace_time_zone("UTC"),
    )


Rule = tuple[pl.Expr, str]  # (row is bad when true, reason)


def validate(
    frame: pl.DataFrame,
    kind: str,
    day: date,
    now: datetime,
    lookups: Lookups,
    source_file: str,
    missing_columns: list[str] | tuple[str, ...] = (),
    feed_tenant: tuple[str, str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split parsed records into (valid rows ready to load, rejected rows with line, record, reason).

    ``feed_tenant`` is the (tenant id, slug) the file's folder binds it to: a row naming any other
    tenant is rejected. Rules are boolean expressions evaluated over the whole frame; reason texts
    are built only for the rows that break a rule, so a clean file costs a few vectorized passes.
    """
    schema = schemas.SCHEMAS[kind]
    df = frame.with_columns(
        [pl.lit(None, dtype=pl.String).alias(c) for c in schema.columns if c not in frame.columns]
    ).with_columns([_text(c).alias(c) for c in schema.columns])
    text_rules = _text_rules(df, schema.columns)
    # the common ISO form first; the other accepted forms only when some rows need them
    df = df.with_columns(
        pl.col("timestamp").str.to_datetime(TS_WITH_OFFSET, strict=False, time_zone="UTC", time_unit="us")
        .alias("event_ts"),
        pl.col("tenant").str.to_lowercase().alias("tenant_key"),
    )
    if df.select((pl.col("event_ts").is_null() & pl.col("timestamp").is_not_null()).any()).item():
        df = df.with_columns(pl.coalesce("event_ts", parse_timestamp("timestamp")).alias("event_ts"))
    df = df.join(lookups.tenants, on="tenant_key", how="left")

    day_start = datetime(day.year, day.month, day.day, tzinfo=now.tzinfo)
    future_limit = now + timedelta(seconds=schemas.FUTURE_TOLERANCE_S)
    rules: list[Rule] = [
        *[(pl.lit(True), f"file has no {c} column") for c in schema.required if c in missing_columns],
        *[(pl.col(c).is_null(), f"missing {c}") for c in schema.required if c not in missing_columns],
        *text_rules,
        (pl.col("timestamp").is_not_null() & pl.col("event_ts").is_null(),
         "timestamp is not ISO 8601 or epoch seconds/milliseconds"),
        (pl.col("event_ts") > future_limit, "timestamp in the future"),
        ((pl.col("event_ts") < day_start) | (pl.col("event_ts") >= day_start + timedelta(days=1)),
         f"timestamp outside the partition day {day.isoformat()} (UTC)"),
        (pl.col("tenant").is_not_null() & pl.col("tenant_id").is_null(), "unknown tenant"),
    ]
    if feed_tenant is not None:
        feed_id, feed_slug = feed_tenant
        rules.append((pl.col("tenant_id").is_not_null() & (pl.col("tenant_id") != feed_id),
                      f"tenant is not this feed's tenant '{feed_slug}' (a feed's rows belong to the tenant "
                      "whose folder the file lands in)"))
    kind_rules = _page_rules if kind == schemas.PAGE else _revenue_rules
    df, specific, outputs = kind_rules(df, lookups)
    rules += specific
    bad = pl.any_horizontal([condition.fill_null(False) for condition, _ in rules]) | pl.col(ERROR).is_not_null()
    df = df.with_columns(bad.alias("_bad"))

    valid = df.filter(~pl.col("_bad"))
    outputs = {"event_ts": pl.col("event_ts"), "event_date": pl.lit(day), "tenant_id": pl.col("tenant_id"),
               "source_file": pl.lit(source_file), "event_id": pl.col("event_id"), **outputs}
    valid = valid.select(pl.col(LINE), *[outputs[c].alias(c) for c in LOAD_COLUMNS[kind]])

    rejected = df.filter(pl.col("_bad"))
    if rejected.height:
        every_reason = pl.concat_str(
            [pl.when(condition.fill_null(False)).then(pl.lit(text)) for condition, text in rules],
            separator="; ", ignore_nulls=True,
        )
        rejected = rejected.with_columns(pl.coalesce(pl.col(ERROR), every_reason).alias("reason"))
        if rejected[RAW].null_count():
            # rows without their text line (Parquet, clean JSONL): keep the record as JSON of what was read
            rejected = rejected.with_columns(
                pl.coalesce(RAW, pl.struct(list(schema.columns)).struct.json_encode()).alias(RAW)
            )
        rejected = rejected.with_columns(storable(RAW).alias(RAW))
    else:
        rejected = rejected.with_columns(pl.lit(None, dtype=pl.String).alias("reason"))
    rejected = rejected.select(
        pl.lit(kind).alias("kind"), pl.lit(day).alias("event_date"), pl.lit(source_file).alias("source_file"),
        pl.col(LINE).alias("line_number"), pl.col(RAW).alias("raw_record"), "reason",
    )
    return valid, rejected


def _text_rules(df: pl.DataFrame, columns: tuple[str, ...]) -> list[Rule]:
    """Field lengths, and characters PostgreSQL text cannot hold (NUL) or a field must not hold
    (line breaks and other control characters: they would split the record in any line format).
    The character rules are added only when some field has one: a clean file pays one pass."""
    rules: list[Rule] = [
        (pl.col(c).str.len_chars() > schemas.max_chars(c), f"{c} longer than {schemas.max_chars(c)} characters")
        for c in columns
    ]
    control = r"[\x00-\x08\x0a-\x1f\x7f]"
    if df.select(pl.any_horizontal([pl.col(c).str.contains(control).fill_null(False) for c in columns]).any()).item():
        for c in columns:
            rules.append((pl.col(c).str.contains("\x00", literal=True), f"{c} contains a NUL character (U+0000)"))
            rules.append((pl.col(c).str.contains(r"[\x01-\x08\x0a-\x1f\x7f]"),
                          f"{c} contains a control character (line break, escape, ...)"))
    return rules


def storable(column: str) -> pl.Expr:
    """A rejected record's text as PostgreSQL can keep it: NUL written as the escape ``\\u0000``,
    cut to MAX_RAW_RECORD_CHARS with a note of the full length."""
    text = pl.col(column).str.replace_all("\x00", "\\u0000", literal=True)
    limit = schemas.MAX_RAW_RECORD_CHARS
    return pl.when(text.str.len_chars() > limit).then(
        pl.concat_str([text.str.slice(0, limit), pl.lit(" …[cut; "), text.str.len_chars().cast(pl.String),
                       pl.lit(" characters]")])
    ).otherwise(text)


def url_slug(column: str) -> pl.Expr:
    """The article slug a page URL or path names: its last path segment, lower case (query and
    fragment ignored). The one rule by which page views and imported pages find their article."""
    path = pl.col(column).str.replace(r"[?#].*$", "").str.strip_chars_end("/")
    return path.str.split("/").list.last().str.to_lowercase()


def _page_rules(df: pl.DataFrame, lookups: Lookups) -> tuple[pl.DataFrame, list[Rule], dict[str, pl.Expr]]:
    # rows name their article by id or, failing that, by URL: each group joins only its own lookup
    by_id = lookups.articles.select(
        pl.col("article_key"), pl.col("article_tenant_id"), pl.col("article_key").alias("article_by_id")
    )
    by_slug = lookups.articles.select(
        pl.col("article_tenant_id").alias("tenant_id"), pl.col("slug").alias("url_slug"),
        pl.col("article_key").alias("article_by_url"),
    )
    with_id = df.filter(pl.col("article_id").is_not_null())
    without_id = df.filter(pl.col("article_id").is_null())
    with_id = with_id.with_columns(pl.col("article_id").str.to_lowercase().alias("article_key")).join(
        by_id, on="article_key", how="left"
    )
    without_id = without_id.with_columns(url_slug("url").alias("url_slug")).join(
        by_slug, on=["tenant_id", "url_slug"], how="left"
    )
    df = pl.concat([with_id, without_id], how="diagonal_relaxed")
    id_given = pl.col("article_id").is_not_null()
    id_ok = pl.col("article_by_id").is_not_null() & (pl.col("article_tenant_id") == pl.col("tenant_id"))
    df = df.with_columns(
        _number("time_on_page").alias("time_on_page_s"),
        _number("scroll_depth").alias("scroll_depth_f"),
    )
    rules: list[Rule] = [
        (id_given.not_() & pl.col("url").is_null(), "missing article_id and url"),
        (id_given & pl.col("tenant_id").is_not_null() & id_ok.not_(), "unknown article_id for this tenant"),
        (id_given.not_() & pl.col("url").is_not_null() & pl.col("tenant_id").is_not_null()
         & pl.col("article_by_url").is_null(), "url matches no article of this tenant"),
        (pl.col("time_on_page").is_not_null() & pl.col("time_on_page_s").is_null(), "time_on_page is not a number"),
        (pl.col("time_on_page_s").is_nan() | (pl.col("time_on_page_s") < 0)
         | (pl.col("time_on_page_s") > schemas.MAX_TIME_ON_PAGE_S),
         f"time_on_page out of range (0 to {schemas.MAX_TIME_ON_PAGE_S} s)"),
        (pl.col("scroll_depth").is_not_null() & pl.col("scroll_depth_f").is_null(), "scroll_depth is not a number"),
        (pl.col("scroll_depth_f").is_nan() | (pl.col("scroll_depth_f") < 0) | (pl.col("scroll_depth_f") > 1),
         "scroll_depth out of range (a fraction from 0 to 1)"),
    ]
    device = pl.col("device").str.to_lowercase()
    country = pl.col("country").str.to_uppercase()
    outputs = {
        "article_id": pl.coalesce("article_by_id", "article_by_url"),
        "url": pl.col("url"),
        "session_id": pl.col("session_id"),
        "visitor_hash": pl.col("visitor_hash"),
        "referrer": pl.col("referrer"),
        "device": pl.when(device.is_in(schemas.DEVICES)).then(device).when(device.is_not_null()).then(pl.lit("other")),
        "country": pl.when(country.str.contains(r"^[A-Z]{2}$")).then(country),
        "time_on_page_s": pl.col("time_on_page_s"),
        "scroll_depth": pl.col("scroll_depth_f"),
    }
    return df, rules, outputs


def _revenue_rules(df: pl.DataFrame, lookups: Lookups) -> tuple[pl.DataFrame, list[Rule], dict[str, pl.Expr]]:
    rates = pl.DataFrame(
        {"currency_code": list(currency.USD_PER_UNIT), "usd_per_unit": list(currency.USD_PER_UNIT.values())}
    )
    by_id = lookups.articles.select(pl.col("article_key"), pl.col("article_tenant_id"))
    df = (
        df.with_columns(
            pl.col("article_id").str.to_lowercase().alias("article_key"),
            pl.col("currency").str.to_uppercase().alias("currency_code"),
            pl.col("source").str.to_lowercase().alias("source_norm"),
            _number("amount").alias("amount_f"),
        )
        .join(by_id, on="article_key", how="left")
        .join(rates, on="currency_code", how="left")
        .with_columns((pl.col("amount_f") * pl.col("usd_per_unit")).alias("amount_usd"))
    )
    rules: list[Rule] = [
        (pl.col("article_id").is_not_null() & pl.col("tenant_id").is_not_null()
         & (pl.col("article_tenant_id").is_null() | (pl.col("article_tenant_id") != pl.col("tenant_id"))),
         "unknown article_id for this tenant"),
        (pl.col("source").is_not_null() & pl.col("source_norm").is_in(schemas.REVENUE_SOURCES).not_(),
         "unknown source (ads, affiliate or sponsorship)"),
        (pl.col("amount").is_not_null() & (pl.col("amount_f").is_null() | pl.col("amount_f").is_finite().not_()),
         "amount is not a number"),
        (pl.col("amount_f") < 0, "negative amount"),
        (pl.col("currency").is_not_null() & pl.col("usd_per_unit").is_null(), "unknown currency"),
        (pl.col("amount_usd") > schemas.MAX_EVENT_USD,
         f"absurd amount (over {schemas.MAX_EVENT_USD:,.0f} USD for one event)"),
    ]
    outputs = {
        "article_id": pl.col("article_key"),
        "source": pl.col("source_norm"),
        "amount": pl.col("amount_f"),
        "currency": pl.col("currency_code"),
        "amount_usd": pl.col("amount_usd"),
    }
    return df, rules, outputs
