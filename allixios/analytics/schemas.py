"""The documented event-file contract: names, formats, columns and the limits rows are checked against.

Files for a day land in ``landing_dir("events") / "YYYY-MM-DD" / "<tenant slug>" /``: the folder is the
feed's tenant, and every row's ``tenant`` must name that tenant (files directly in the day folder
belong to the default tenant, ``sample``). The file name says what it holds: ``page_*`` page views,
``revenue_*`` revenue events; the extension says the format: ``.jsonl`` / ``.ndjson`` / ``.json``
(one JSON object per line), ``.csv`` (header row, comma separated, UTF-8), ``.parquet``. Any mix of
formats may sit in one folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PAGE = "page"
REVENUE = "revenue"
KINDS = (PAGE, REVENUE)

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class EventSchema:
    kind: str
    # every column the file may carry, in load order; values are read as text and then typed
    columns: tuple[str, ...]
    # a row without one of these is rejected
    required: tuple[str, ...]
    # at least one of these must be present (page views: an article id or its URL)
    one_of: tuple[str, ...] = ()
    # other names a tool writes for a column (header text, any case and spacing) -> the column
    aliases: tuple[tuple[str, str], ...] = ()
    # lines starting with this before the header are notes, not records (GA4's CSV export: "# ...")
    comment_prefix: str | None = None

    def canonical(self, name: str) -> str:
        """The contract column a written column name stands for (itself when it is no alias)."""
        key = " ".join(name.strip().lower().split())
        aliases = dict(self.aliases)
        unit = _UNIT_SUFFIX.match(key)  # "Estimated earnings (USD)": the column, its unit in brackets
        if key not in aliases and key not in self.columns and unit:
            key = unit.group(1)
        return aliases.get(key, key)

    def unit_of(self, name: str) -> str | None:
        """The unit a column name writes in brackets (``Estimated earnings (EUR)`` -> ``EUR``)."""
        unit = _UNIT_SUFFIX.match(" ".join(name.strip().lower().split()))
        return unit.group(2).upper() if unit else None


_UNIT_SUFFIX = re.compile(r"^(.*\S) \(([a-z]{3})\)$")


PAGE_SCHEMA = EventSchema(
    kind=PAGE,
    columns=(
        "event_id", "timestamp", "tenant", "article_id", "url", "session_id", "visitor_hash",
        "referrer", "device", "country", "time_on_page", "scroll_depth",
    ),
    required=("event_id", "timestamp", "tenant"),
    one_of=("article_id", "url"),
)

REVENUE_SCHEMA = EventSchema(
    kind=REVENUE,
    columns=("event_id", "timestamp", "tenant", "article_id", "source", "amount", "currency"),
    required=("event_id", "timestamp", "tenant", "article_id", "source", "amount", "currency"),
)

SCHEMAS = {PAGE: PAGE_SCHEMA, REVENUE: REVENUE_SCHEMA}

REVENUE_SOURCES = ("ads", "affiliate", "sponsorship")
DEVICES = ("desktop", "mobile", "tablet", "other")

# Limits a row is checked against (documented in docs/areas/analytics.md).
MAX_TIME_ON_PAGE_S = 4 * 3600  # a tab left open for longer is not reading
MAX_EVENT_USD = 10_000.0  # one ad/affiliate/sponsorship event above this is a unit or decimal error
FUTURE_TOLERANCE_S = 300  # clock skew allowed for events stamped "now"
# Longest text a field may hold (characters); longer rows are rejected, never truncated. URLs and
# referrers get browser-sized room, everything else is an identifier or a code.
MAX_FIELD_CHARS = 256
MAX_FIELD_CHARS_BY_COLUMN = {"event_id": 200, "url": 4096, "referrer": 4096, "page": 4096}
# A rejected row's text is kept for diagnosis up to this many characters.
MAX_RAW_RECORD_CHARS = 4096

# Files directly in a day folder (not in a tenant folder) belong to this tenant, the same default
# the CLI's --tenant uses.
DEFAULT_TENANT = "sample"


def max_chars(column: str) -> int:
    return MAX_FIELD_CHARS_BY_COLUMN.get(column, MAX_FIELD_CHARS)


def kind_of(path: Path) -> str | None:
    """``page`` / ``revenue`` from the file name prefix, or None when the name says neither."""
    name = path.name.lower()
    for kind in KINDS:
        if name.startswith(f"{kind}_"):
            return kind
    return None


def format_of(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())
