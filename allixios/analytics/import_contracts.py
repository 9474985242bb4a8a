"""The documented file contracts of the imports (docs/areas/analytics.md, "Imports").

Each kind's files land per tenant in ``landing/<folder>/<tenant slug>/`` (files directly in
``landing/<folder>/`` belong to the default tenant, like event files). Column names are matched in
any case and spacing, and the names the tools themselves write are aliases of the contract's
columns (``Top pages`` -> ``page``, ``data_date`` -> ``date``). Numbers may be written in any one
locale per file (``allixios.analytics.numbers``).
"""

from __future__ import annotations

from dataclasses import dataclass

from allixios.analytics.schemas import EventSchema

SEARCH_CONSOLE = "search-console"
GA4 = "ga4"
PLAUSIBLE = "plausible"
AFFILIATE = "affiliate"
AD_REVENUE = "ad-revenue"


@dataclass(frozen=True)
class Shape:
    """One way a tool writes the kind: the columns a file of that shape must have."""

    name: str
    required: tuple[str, ...]
    numeric: tuple[str, ...]  # columns read as numbers (locale-aware)
    table: str  # the raw table its rows load into
    key: tuple[str, ...]  # what identifies a row within a tenant's files: a repeat is a duplicate


@dataclass(frozen=True)
class ImportKind:
    name: str  # the CLI command and the kind recorded in raw.import_files
    folder: str  # landing/<folder>/<tenant>/
    title: str
    schemas: dict  # file format -> EventSchema (the columns read; aliases)
    shapes: tuple[Shape, ...]
    keep: str = "first"  # which occurrence of a key loads: first (by file path, line) or last

    def shape_for(self, fmt: str, present: set[str]) -> Shape:
        """The file's shape: the first shape whose tell-tale columns are there (else the first)."""
        if self.name == SEARCH_CONSOLE:
            return self.shapes[1] if "sum_position" in present else self.shapes[0]
        if self.name == GA4:
            return self.shapes[0] if fmt == "jsonl" else self.shapes[1]
        return self.shapes[0]


def _aliases(**columns: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((alias, column) for column, names in columns.items() for alias in names)


_GSC_SCHEMA = EventSchema(
    kind=SEARCH_CONSOLE,
    columns=("date", "page", "query", "clicks", "impressions", "ctr", "position", "sum_position", "country",
             "device", "search_type", "is_anonymized_query"),
    required=(),
    aliases=_aliases(
        date=("data_date", "day"),
        page=("url", "top pages", "pages", "landing page", "landing_page"),
        query=("top queries", "queries", "search query", "keyphrase", "keyword"),
        ctr=("url ctr", "click-through rate"),
        position=("average position", "avg. position", "avg position"),
        search_type=("type",),
    ),
)

_GSC_KEY = ("day", "page", "query", "country", "device", "search_type")

SEARCH_CONSOLE_KIND = ImportKind(
    name=SEARCH_CONSOLE,
    folder="search_console",
    title="Google Search Console performance",
    schemas={"csv": _GSC_SCHEMA, "jsonl": _GSC_SCHEMA, "parquet": _GSC_SCHEMA},
    shapes=(
        # the Performance report as CSV (the UI's export with the date dimension, the Search
        # Analytics API, Looker Studio): CTR a fraction or a percentage, position 1-based
        Shape("ui", ("date", "page", "query", "clicks", "impressions", "position"),
              ("clicks", "impressions", "ctr", "position"), "search_console", _GSC_KEY),
        # the bulk data export (BigQuery searchdata_url_impression): zero-based sum_position
        Shape("bulk", ("date", "page", "clicks", "impressions", "sum_position"),
              ("clicks", "impressions", "sum_position"), "search_console", _GSC_KEY),
    ),
)

_GA4_EVENTS = EventSchema(
    kind=GA4,
    columns=("event_date", "event_timestamp", "event_name", "user_pseudo_id", "event_params", "device", "geo",
             "traffic_source"),
    required=(),
)
_GA4_PAGES = EventSchema(
    kind=GA4,
    columns=("date", "page", "views", "users", "sessions", "avg_time", "bounce_rate"),
    required=(),
    aliases=_aliases(
        page=("page path and screen class", "page path", "page location", "page path + query string",
              "landing page", "landing page + query string", "page title and screen class"),
        views=("screen page views", "screenpageviews", "pageviews"),
        users=("active users", "total users", "activeusers", "totalusers"),
        avg_time=("average engagement time", "average engagement time per active user",
                  "user engagement", "averageengagementtime"),
        bounce_rate=("bounce rate", "bouncerate"),
    ),
    comment_prefix="#",
)
GA4_KIND = ImportKind(
    name=GA4,
    folder="ga4",
    title="Google Analytics 4",
    # the BigQuery export's nested records as JSON lines (Parquet would need nested types the reader keeps out)
    schemas={"jsonl": _GA4_EVENTS, "csv": _GA4_PAGES},
    shapes=(
        Shape("bigquery_events", ("event_date", "event_timestamp", "event_name"), (), "ga4_events", ("row_key",)),
        Shape("ui_pages", ("date", "page", "views"), ("views", "users", "sessions", "bounce_rate"),
              "traffic_pages", ("day", "page")),
    ),
)

_PLAUSIBLE = EventSchema(
    kind=PLAUSIBLE,
    columns=("date", "hostname", "page", "visitors", "pageviews", "visits", "time_on_page", "total_time_on_page",
             "bounce_rate"),
    required=(),
    aliases=_aliases(page=("name", "path"), pageviews=("views",), bounce_rate=("bounce rate",),
                     time_on_page=("time on page",)),
)
PLAUSIBLE_KIND = ImportKind(
    name=PLAUSIBLE,
    folder="plausible",
    title="Plausible",
    schemas={"csv": _PLAUSIBLE},
    shapes=(Shape("imported_pages", ("date", "page", "visitors", "pageviews"),
                  ("visitors", "pageviews", "visits", "time_on_page", "total_time_on_page", "bounce_rate"),
                  "traffic_pages", ("day", "page")),),
)

_AFFILIATE = EventSchema(
    kind=AFFILIATE,
    columns=("order_id", "date", "status", "commission", "currency", "page", "article_id", "network"),
    required=(),
    aliases=_aliases(
        order_id=("order id", "order", "transaction id", "transaction_id", "order_ref", "order reference"),
        date=("transaction date", "order date", "timestamp", "event_date"),
        commission=("commission amount", "commission_amount", "payout", "earnings"),
        status=("commission status", "state"),
        page=("sub id", "subid", "sub_id", "click_ref", "clickref", "url", "landing page", "landing_page"),
        network=("program", "advertiser", "merchant"),
    ),
)
AFFILIATE_KIND = ImportKind(
    name=AFFILIATE,
    folder="affiliate",
    title="Affiliate network orders",
    schemas={"csv": _AFFILIATE, "jsonl": _AFFILIATE},
    shapes=(Shape("orders", ("order_id", "date", "status", "commission"), ("commission",),
                  "affiliate_orders", ("order_id", "entry")),),
    keep="last",  # a later export's status (pending -> approved -> declined) supersedes an earlier one
)

_AD_REVENUE = EventSchema(
    kind=AD_REVENUE,
    columns=("date", "page", "network", "revenue", "currency", "impressions", "clicks", "article_id"),
    required=(),
    aliases=_aliases(
        page=("page url", "url", "page_url"),
        revenue=("estimated earnings", "earnings", "estimated_earnings", "amount"),
        network=("ad network", "source", "ad_network"),
        impressions=("ad impressions", "ad_impressions"),
    ),
)
AD_REVENUE_KIND = ImportKind(
    name=AD_REVENUE,
    folder="ad_revenue",
    title="Ad revenue per page and day",
    schemas={"csv": _AD_REVENUE, "jsonl": _AD_REVENUE},
    shapes=(Shape("pages", ("date", "page", "revenue", "currency"), ("revenue", "impressions", "clicks"),
                  "ad_revenue", ("day", "page", "network")),),
)

KINDS: dict[str, ImportKind] = {k.name: k for k in (SEARCH_CONSOLE_KIND, GA4_KIND, PLAUSIBLE_KIND, AFFILIATE_KIND,
                                                     AD_REVENUE_KIND)}

# affiliate statuses as networks write them -> the contract's four
AFFILIATE_STATUSES = {
    "pending": ("pending", "open", "new", "waiting"),
    "approved": ("approved", "confirmed", "paid", "locked", "accepted", "validated"),
    "declined": ("declined", "rejected", "cancelled", "canceled", "void", "denied"),
    "reversed": ("reversed", "reversal", "chargeback", "refunded", "returned", "clawback"),
}
STATUS_OF = {alias: status for status, aliases in AFFILIATE_STATUSES.items() for alias in aliases}
