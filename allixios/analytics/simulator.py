"""Traffic simulator: an offline stand-in for real page-view and revenue feeds.

It writes realistic event files for a tenant's published articles into the landing folder, one
folder per day and tenant (``YYYY-MM-DD/<tenant>/``), in every supported format (JSONL, CSV, Parquet):

- popularity follows a power law (a few articles take most views),
- weekly seasonality (weekdays busier than weekends),
- a decay curve after publishing (launch peak, then a long tail),
- some articles whose engagement drops sharply from a given day (time on page, scroll, revenue),
- revenue proportional to views with noise (ads, affiliate, sponsorship; some in EUR/GBP),
- a small share of deliberately bad rows (malformed lines, unknown ids, impossible values,
  timestamps outside the day, unknown currency) and a few re-sent duplicates.

Deterministic: the same seed, arguments and articles give byte-identical files (for a given
polars version; random numbers come from polars' vectorized hash, so 5M events take seconds).
Articles published after ``start`` are treated as live from ``start`` so a fresh install has
traffic to look at; articles published earlier keep their real age on the decay curve.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
from sqlalchemy.engine import URL

from allixios.analytics import currency
from allixios.analytics.ingest import events_root, feed_folder
from allixios.errors import NotFoundError, ValidationError
from allixios.files import write_atomic
from allixios.tenants import get_tenant

STANDIN = "offline traffic simulator"

WEEKDAY_FACTOR = (1.05, 1.10, 1.08, 1.02, 0.95, 0.78, 0.82)  # Monday .. Sunday
REFERRERS = {"google": 0.52, "direct": 0.2, "newsletter": 0.08, "facebook": 0.08, "bing": 0.05, "x.com": 0.04,
             "reddit": 0.03}
DEVICES = {"mobile": 0.58, "desktop": 0.36, "tablet": 0.06}
COUNTRIES = {"US": 0.38, "GB": 0.1, "DE": 0.08, "IN": 0.08, "CA": 0.07, "AU": 0.05, "FR": 0.05, "BR": 0.05,
             "NL": 0.04, "ES": 0.04, "SE": 0.03, "JP": 0.03}
CURRENCIES = {"USD": 0.85, "EUR": 0.1, "GBP": 0.05}
# revenue per 1000 views by niche keyword (finance pays best); others get the default
RPM_BY_KEYWORD = {"finance": 28.0, "money": 28.0, "invest": 30.0, "garden": 9.0, "remote": 14.0, "work": 14.0}
DEFAULT_RPM = 12.0
DROP_SHARE = 0.15  # share of articles whose engagement collapses on a day in the window
VIEWS_PER_REVENUE_EVENT = 10


@dataclass(frozen=True)
class SimArticle:
    id: str
    slug: str
    niche: str
    live_from: date
    weight: float
    quality: float
    rpm: float
    drop_day: date | None


class _Rng:
    """Vectorized uniform numbers: polars hashes the row index with the seed and a stream number."""

    def __init__(self, seed: int):
        self.seed = seed

    def stream_seed(self, stream: int) -> int:
        return (self.seed * 1_000_003 + stream * 7_919 + 17) % (2**63)

    def uniform(self, stream: int) -> pl.Expr:
        bits = pl.int_range(0, pl.len(), dtype=pl.UInt64).hash(seed=self.stream_seed(stream))
        return ((bits // 2048).cast(pl.Float64) + 0.5) * (2.0**-53)

    def normal(self, stream: int) -> pl.Expr:
        u1, u2 = self.uniform(stream), self.uniform(stream + 1)
        return (-2.0 * u1.log()).sqrt() * (2.0 * math.pi * u2).cos()

    def choice(self, stream: int, options: dict[str, float]) -> pl.Expr:
        """One of ``options`` by weight."""
        total = sum(options.values())
        u = self.uniform(stream)
        cumulative = 0.0
        thresholds = []
        for name, weight in options.items():
            cumulative += weight / total
            thresholds.append((cumulative, name))
        expr = pl.when(u < thresholds[0][0]).then(pl.lit(thresholds[0][1]))
        for limit, name in thresholds[1:-1]:
            expr = expr.when(u < limit).then(pl.lit(name))
        return expr.otherwise(pl.lit(thresholds[-1][1]))


def simulate_traffic(
    conn_or_url: psycopg.Connection | URL | str | None = None,
    days: int = 7,
    events_per_day: int = 2000,
    start: date | None = None,
    tenant_slug: str = "sample",
    seed: int = 42,
    root: Path | None = None,
    bad_share: float = 0.01,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Write ``days`` days of page and revenue event files for the tenant's published articles.

    ``start`` defaults to the day that makes the window end today (UTC). Returns what was written:
    days, files, event counts, bad rows, duplicates and the articles whose engagement drops.
    """
    if days < 1 or days > 366:
        raise ValidationError(f"--days {days} is out of range", fix="simulate 1 to 366 days")
    if events_per_day < 1 or events_per_day > 50_000_000:
        raise ValidationError(f"--events-per-day {events_per_day} is out of range", fix="use 1 to 50,000,000")
    if not 0 <= bad_share <= 0.5:
        raise ValidationError(f"bad share {bad_share} is out of range", fix="use 0 to 0.5")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    today = now.date()
    start = start or today - timedelta(days=days - 1)
    end = start + timedelta(days=days - 1)
    if end > today:
        raise ValidationError(
            f"the window {start} .. {end} reaches past today ({today}, UTC): events cannot come from the future",
            fix=f"start on or before {today - timedelta(days=days - 1)}",
        )
    rows = _published_articles(conn_or_url, tenant_slug)
    if not rows:
        raise NotFoundError(
            f"tenant {tenant_slug!r} has no published articles to send traffic to",
            fix="publish some first: `allixios run` (content job) or the content assets in `make dev`",
        )
    articles = _article_profiles(rows, start, days, seed)
    root = root or events_root()
    totals = {"page_events": 0, "revenue_events": 0, "bad_rows": 0, "duplicates": 0, "files": 0}
    for offset in range(days):
        day = start + timedelta(days=offset)
        written = _simulate_day(articles, day, events_per_day, tenant_slug, seed, root, bad_share, now)
        for key in totals:
            totals[key] += written[key]
    return {
        "simulator": STANDIN,
        "tenant": tenant_slug,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": days,
        "articles": len(articles),
        **totals,
        "drop_articles": [{"article_id": a.id, "drop_day": a.drop_day.isoformat()} for a in articles if a.drop_day],
        "folder": str(root),
    }


def _published_articles(conn_or_url, tenant_slug: str) -> list[tuple]:
    sql = """SELECT a.id::text, a.slug, coalesce(n.slug, 'general'), a.published_at::date
             FROM articles a LEFT JOIN niches n ON n.id = a.niche_id
             WHERE a.tenant_id = %s AND a.status = 'published' AND a.published_at IS NOT NULL
               AND a.deleted_at IS NULL
             ORDER BY a.published_at, a.id"""
    if isinstance(conn_or_url, psycopg.Connection):
        tenant = get_tenant(conn_or_url, tenant_slug)
        return conn_or_url.execute(sql, (tenant.id,)).fetchall()
    from allixios.db import server
    from allixios.db.engine import connect

    url = server._parse_url(conn_or_url) if isinstance(conn_or_url, str) else conn_or_url
    with connect(url) as conn:
        tenant = get_tenant(conn, tenant_slug)
        return conn.execute(sql, (tenant.id,)).fetchall()


def _article_profiles(rows: list[tuple], start: date, days: int, seed: int) -> list[SimArticle]:
    rng = random.Random(seed)
    ranks = list(range(1, len(rows) + 1))
    rng.shuffle(ranks)
    drop_count = round(len(rows) * DROP_SHARE) if len(rows) >= 3 else 0
    drop_count = max(drop_count, 1) if len(rows) >= 3 else 0
    dropping = set(rng.sample(range(len(rows)), drop_count)) if days >= 5 else set()
    profiles = []
    for i, (article_id, slug, niche, published) in enumerate(rows):
        rpm = next((v for k, v in RPM_BY_KEYWORD.items() if k in niche), DEFAULT_RPM)
        drop_day = start + timedelta(days=rng.randint(max(4, days // 2), days - 1)) if i in dropping else None
        profiles.append(SimArticle(
            id=article_id, slug=slug, niche=niche, live_from=min(published, start),
            weight=ranks[i] ** -1.1, quality=rng.uniform(0.8, 1.2), rpm=rpm * rng.uniform(0.8, 1.25),
            drop_day=drop_day,
        ))
    return profiles


def _decay(age_days: int) -> float:
    """Launch peak in the first days, then a long tail that keeps a third of the traffic."""
    if age_days < 0:
        return 0.0
    return 0.35 + 0.65 * math.exp(-age_days / 10.0)


def _simulate_day(
    articles: list[SimArticle], day: date, events_per_day: int, tenant: str, seed: int, root: Path,
    bad_share: float, now: datetime,
) -> dict[str, int]:
    rng = _Rng(seed * 1_000_003 + day.toordinal())
    shares = []
    for a in articles:
        dropped = a.drop_day is not None and day >= a.drop_day
        shares.append(a.weight * _decay((day - a.live_from).days) * (0.6 if dropped else 1.0))
    total = sum(shares)
    if total <= 0:
        return {"page_events": 0, "revenue_events": 0, "bad_rows": 0, "duplicates": 0, "files": 0}
    # events_per_day is the volume when every article is fresh; ageing (and dropping) articles lose views
    freshness = total / sum(a.weight for a in articles)
    views_today = max(1, round(events_per_day * WEEKDAY_FACTOR[day.weekday()] * freshness))
    cumulative, running = [], 0.0
    for s in shares:
        running += s / total
        cumulative.append(running)
    cumulative[-1] = 1.0 + 1e-9

    profile = pl.DataFrame({
        "article_idx": list(range(len(articles))),
        "article_id": [a.id for a in articles],
        "slug": [a.slug for a in articles],
        "niche": [a.niche for a in articles],
        "quality": [a.quality for a in articles],
        "rpm": [a.rpm for a in articles],
        "dropped": [a.drop_day is not None and day >= a.drop_day for a in articles],
    }, schema_overrides={"article_idx": pl.UInt32})
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    span_s = 86_399.0 if day < now.date() else max(1.0, (now - day_start).total_seconds() - 60)

    pages = (
        pl.DataFrame({"i": pl.int_range(0, views_today, eager=True)})
        .with_columns(
            pl.lit(pl.Series("cum", cumulative)).search_sorted(rng.uniform(1)).cast(pl.UInt32).alias("article_idx"),
            (rng.uniform(2) * span_s * 1_000_000).cast(pl.Int64).alias("offset_us"),
            (rng.uniform(3) * views_today * 0.8).cast(pl.Int64).alias("session"),
            (rng.uniform(4).pow(2) * max(10, views_today * 3)).cast(pl.Int64).alias("visitor"),
            rng.choice(5, REFERRERS).alias("referrer"),
            rng.choice(6, DEVICES).alias("device"),
            rng.choice(7, COUNTRIES).alias("country"),
            rng.normal(8).alias("z_time"),
            rng.normal(10).alias("z_scroll"),
            rng.uniform(12).alias("u_url"),
        )
        .join(profile, on="article_idx", how="left")
    )
    engagement = pl.col("quality") * pl.when(pl.col("dropped")).then(0.35).otherwise(1.0)
    pages = pages.with_columns(
        pl.format("{}-{}-p{}", pl.lit(tenant), pl.lit(day.strftime("%Y%m%d")), pl.col("i")).alias("event_id"),
        (pl.lit(day_start) + pl.duration(microseconds=pl.col("offset_us"))).alias("ts"),
        pl.lit(tenant).alias("tenant"),
        pl.format("s{}", pl.col("session").hash(seed=rng.stream_seed(21)) % 10**12).alias("session_id"),
        pl.format("v{}", pl.col("visitor").hash(seed=seed) % 10**15).alias("visitor_hash"),
        (75.0 * engagement * (0.8 * pl.col("z_time")).exp()).clip(1.0, 3600.0).round(1).alias("time_on_page"),
        (0.62 * engagement.pow(0.8) + 0.18 * pl.col("z_scroll")).clip(0.0, 1.0).round(3).alias("scroll_depth"),
        # a fifth of the trackers send the page URL instead of the article id
        pl.when(pl.col("u_url") < 0.2).then(None).otherwise(pl.col("article_id")).alias("article_ref"),
        pl.when(pl.col("u_url") < 0.2)
        .then(pl.format("https://{}.example.com/{}/{}", pl.lit(tenant), pl.col("niche"), pl.col("slug")))
        .alias("url"),
    )

    revenue_count = max(1, views_today // VIEWS_PER_REVENUE_EVENT)
    revenue = (
        pl.DataFrame({"i": pl.int_range(0, revenue_count, eager=True)})
        .with_columns(
            (rng.uniform(31) * views_today).cast(pl.Int64).alias("page_row"),  # revenue follows views
            rng.choice(32, {"ads": 0.86, "affiliate": 0.12, "sponsorship": 0.02}).alias("source"),
            rng.choice(33, CURRENCIES).alias("currency"),
            rng.normal(34).alias("z_amount"),
            (rng.uniform(35) * span_s * 1_000_000).cast(pl.Int64).alias("offset_us"),
        )
        .join(pages.select(pl.col("i").alias("page_row"), "article_id", "rpm", "dropped"), on="page_row", how="left")
    )
    usd_per_event = pl.col("rpm") * VIEWS_PER_REVENUE_EVENT / 1000.0
    source_factor = pl.when(pl.col("source") == "ads").then(0.8).when(pl.col("source") == "affiliate").then(2.3).otherwise(10.0)
    rates = pl.DataFrame({"currency": list(CURRENCIES), "usd_per_unit": [currency.USD_PER_UNIT[c] for c in CURRENCIES]})
    revenue = revenue.join(rates, on="currency", how="left").with_columns(
        pl.format("{}-{}-r{}", pl.lit(tenant), pl.lit(day.strftime("%Y%m%d")), pl.col("i")).alias("event_id"),
        (pl.lit(day_start) + pl.duration(microseconds=pl.col("offset_us"))).alias("ts"),
        pl.lit(tenant).alias("tenant"),
        (usd_per_event * source_factor * (0.25 * pl.col("z_amount")).exp()
         * pl.when(pl.col("dropped")).then(0.5).otherwise(1.0) / pl.col("usd_per_unit")).round(4).alias("amount"),
    )

    page_out, page_bad = _inject_bad_pages(pages, rng, bad_share, day)
    revenue_out, revenue_bad = _inject_bad_revenue(revenue, rng, bad_share, day)
    return _write_day(page_out, revenue_out, rng, day, tenant, root) | {
        "bad_rows": page_bad + revenue_bad,
    }


PAGE_COLUMNS = ("event_id", "timestamp", "tenant", "article_id", "url", "session_id", "visitor_hash", "referrer",
                "device", "country", "time_on_page", "scroll_depth")
REVENUE_COLUMNS = ("event_id", "timestamp", "tenant", "article_id", "source", "amount", "currency")
UNKNOWN_ARTICLE = "00000000-0000-4000-8000-000000000000"


def _iso(column: str) -> pl.Expr:
    return pl.col(column).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")


def _inject_bad_pages(pages: pl.DataFrame, rng: _Rng, share: float, day: date) -> tuple[pl.DataFrame, int]:
    """Return the page rows (as they will be written) with a share of deliberately bad values."""
    pages = pages.with_columns(rng.uniform(40).alias("u_bad"), (rng.uniform(41) * 7).cast(pl.Int8).alias("bad_kind"))
    bad = pl.col("u_bad") < share
    kind = pl.col("bad_kind")
    next_day = (datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1, hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = pages.select(
        # kind 6 lines are also cut short in the JSONL file; in CSV/Parquet they lack the id
        pl.when(bad & ((kind == 0) | (kind == 6))).then(None).otherwise(pl.col("event_id")).alias("event_id"),
        pl.when(bad & (kind == 1)).then(pl.lit(next_day)).otherwise(_iso("ts")).alias("timestamp"),
        pl.when(bad & (kind == 2)).then(pl.lit("unknown-tenant")).otherwise(pl.col("tenant")).alias("tenant"),
        pl.when(bad & (kind == 3)).then(pl.lit(UNKNOWN_ARTICLE)).otherwise(pl.col("article_ref")).alias("article_id"),
        pl.when(bad & (kind == 3)).then(None).otherwise(pl.col("url")).alias("url"),
        "session_id", "visitor_hash", "referrer", "device", "country",
        pl.when(bad & (kind == 4)).then(-pl.col("time_on_page")).otherwise(pl.col("time_on_page")).alias("time_on_page"),
        pl.when(bad & (kind == 5)).then(pl.col("scroll_depth") * 100 + 2).otherwise(pl.col("scroll_depth")).alias("scroll_depth"),
        (bad & (kind == 6)).alias("_malformed"),
        bad.alias("_bad"),
    )
    return out, int(pages.select(bad.sum()).item())


def _inject_bad_revenue(revenue: pl.DataFrame, rng: _Rng, share: float, day: date) -> tuple[pl.DataFrame, int]:
    revenue = revenue.with_columns(rng.uniform(50).alias("u_bad"), (rng.uniform(51) * 4).cast(pl.Int8).alias("bad_kind"))
    # revenue feeds are cleaner than trackers, but not clean
    bad = pl.col("u_bad") < share * 2
    kind = pl.col("bad_kind")
    out = revenue.select(
        "event_id",
        _iso("ts").alias("timestamp"),
        "tenant",
        pl.when(bad & (kind == 0)).then(pl.lit(UNKNOWN_ARTICLE)).otherwise(pl.col("article_id")).alias("article_id"),
        "source",
        pl.when(bad & (kind == 1)).then(-pl.col("amount"))
        .when(bad & (kind == 2)).then(pl.col("amount") * 1_000_000)
        .otherwise(pl.col("amount")).alias("amount"),
        pl.when(bad & (kind == 3)).then(pl.lit("XBT")).otherwise(pl.col("currency")).alias("currency"),
        pl.lit(False).alias("_malformed"),
        bad.alias("_bad"),
    )
    return out, int(revenue.select(bad.sum()).item())


def _write_day(pages: pl.DataFrame, revenue: pl.DataFrame, rng: _Rng, day: date, tenant: str, root: Path) -> dict:
    folder = feed_folder(day, tenant, root)  # ingest binds the rows of this folder to the tenant
    folder.mkdir(parents=True, exist_ok=True)
    n = pages.height
    # web tracker half as JSONL, app third as CSV, the rest (AMP pages) as Parquet
    web, app, amp = pages.slice(0, n // 2), pages.slice(n // 2, n * 3 // 10), pages.slice(n // 2 + n * 3 // 10)
    # a few app events re-sent: same event id again (loaded once, counted as duplicates)
    resent = web.filter(~pl.col("_bad")).gather_every(500)
    app = pl.concat([app, resent])
    files = [
        _write_jsonl(folder / f"page_{tenant}_web.jsonl", web, PAGE_COLUMNS),
        write_atomic(folder / f"page_{tenant}_app.csv", lambda p: app.select(PAGE_COLUMNS).write_csv(p)),
        write_atomic(folder / f"page_{tenant}_amp.parquet", lambda p: amp.select(
            pl.col("timestamp").str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC", strict=False)
            if amp.height and amp["timestamp"].str.ends_with("Z").all() else pl.col("timestamp"),
            *[c for c in PAGE_COLUMNS if c != "timestamp"],
        ).select(PAGE_COLUMNS).write_parquet(p)),
        _write_jsonl(folder / f"revenue_{tenant}_ads.jsonl", revenue.filter(pl.col("source") == "ads"), REVENUE_COLUMNS),
        write_atomic(folder / f"revenue_{tenant}_partners.csv",
                      lambda p: revenue.filter(pl.col("source") != "ads").select(REVENUE_COLUMNS).write_csv(p)),
    ]
    return {"page_events": n + resent.height, "revenue_events": revenue.height, "duplicates": resent.height,
            "files": len(files)}


def _write_jsonl(path: Path, frame: pl.DataFrame, columns: tuple[str, ...]) -> Path:
    """JSONL with the malformed rows cut short mid-record, where they fall in the file."""
    lines = frame.select(
        pl.when(pl.col("_malformed"))
        .then(pl.struct(columns).struct.json_encode().str.slice(0, 37))
        .otherwise(pl.struct(columns).struct.json_encode())
        .alias("line")
    )

    def write(p: Path) -> None:
        text = lines.select(pl.col("line").str.join("\n")).item() if lines.height else ""
        p.write_text(text + "\n" if text else "")

    return write_atomic(path, write)
