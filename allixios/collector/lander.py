"""Move the write-ahead log into the tenant's landing feed and ``raw``, every few seconds.

For each (day, tenant) whose log files changed since the last landing, the lander folds the log:
one page row per view (its ``view`` event) carrying the largest engaged time and scroll depth its
``engage`` events reported; a view sent twice stays two lines, so the ingest counts the second as
a duplicate. The fold is written atomically as ``<day>/<tenant>/page_collector.jsonl`` in the
landing folder and the day is loaded by the ordinary file ingest (same validation, same
rejections with reasons, same reconciliation in ``raw.ingested_files``). Link clicks are checked
with the same page-event rules and inserted into ``raw.link_clicks`` keyed by their event id.

Landing is a pure function of the log, so it is idempotent: after a crash (of the process, between
the file and the commit, anywhere) the next tick lands the same rows again and nothing doubles. A
marker per folder remembers the log sizes landed, so unchanged days cost nothing. One API worker
lands per tick (advisory lock).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from allixios.analytics import schemas
from allixios.analytics.ingest import feed_folder, ingest_day
from allixios.analytics.reading import ERROR, LINE, RAW
from allixios.analytics.validation import Lookups, validate
from allixios.collector.wal import complete_lines, wal_root

FEED_FILE = "page_collector.jsonl"
MARKER = ".landed.json"
INTERVAL_ENV = "ALLIXIOS_COLLECTOR_LAND_INTERVAL_S"
DEFAULT_INTERVAL_S = 2.0
log = logging.getLogger("allixios.collector")


def _fold(lines: list[bytes]) -> tuple[list[dict], list[dict], int]:
    """(page rows, click records, lines that were not JSON) of one folder's log."""
    views: list[dict] = []
    first_view: dict[str, dict] = {}
    engagement: dict[str, tuple[float, float]] = {}
    clicks: list[dict] = []
    broken = 0
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            broken += 1
            continue
        kind, view = rec.get("t"), rec.get("v")
        if kind == "view":
            row = {"event_id": view, "timestamp": rec.get("ts"), "tenant": rec.get("tenant"), "url": rec.get("u"),
                   "session_id": rec.get("vh"), "visitor_hash": rec.get("vh"), "referrer": rec.get("r"),
                   "device": rec.get("dev"), "time_on_page": 0, "scroll_depth": 0}
            views.append(row)
            first_view.setdefault(view, row)
        elif kind == "engage":
            e, s = engagement.get(view, (0.0, 0.0))
            engagement[view] = (max(e, float(rec.get("e") or 0)), max(s, float(rec.get("s") or 0)))
        elif kind == "click":
            clicks.append(rec)
    for view, (e, s) in engagement.items():
        row = first_view.get(view)
        if row is not None:
            row["time_on_page"], row["scroll_depth"] = e, s
    return views, clicks, broken


def _write_atomic(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")  # the ingest ignores *.tmp
    with tmp.open("wb") as fh:
        fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _load_clicks(conn, day: date, slug: str, clicks: list[dict], lookups: Lookups, now: datetime) -> dict:
    if not clicks:
        return {"read": 0, "loaded": 0, "rejected": 0, "duplicate": 0}
    frame = pl.DataFrame({
        LINE: list(range(1, len(clicks) + 1)),
        RAW: [json.dumps(c) for c in clicks],
        ERROR: [None] * len(clicks),
        "event_id": [f"{c.get('v')}:{c.get('n')}" for c in clicks],
        "timestamp": [c.get("ts") for c in clicks],
        "tenant": [slug] * len(clicks),
        "url": [c.get("u") for c in clicks],
    }, schema_overrides={ERROR: pl.String})
    tenant_id = conn.execute("SELECT id::text FROM tenants WHERE slug = %s", (slug,)).fetchone()[0]
    valid, rejected = validate(frame, schemas.PAGE, day, now, lookups, f"{day}/{slug}/collector clicks",
                               feed_tenant=(tenant_id, slug))
    rows = []
    for rec in valid.select(LINE, "event_id", "event_ts", "article_id", "url").iter_rows(named=True):
        c = clicks[rec[LINE] - 1]
        rows.append((rec["event_id"], rec["event_ts"], day, tenant_id, rec["article_id"], str(c.get("v")), rec["url"],
                     str(c.get("h") or "")[:4096], bool(c.get("a"))))
    loaded = 0
    with conn.cursor() as cur:
        for row in rows:
            cur.execute("""INSERT INTO raw.link_clicks (event_id, event_ts, event_date, tenant_id, article_id, view_id,
                                  url, href, affiliate) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                           ON CONFLICT DO NOTHING""", row)
            loaded += cur.rowcount
    for reason, hits in rejected.group_by("reason").len().iter_rows():
        record_refusal(conn, tenant_id, f"click rejected: {reason}", hits, day=day)
    return {"read": len(clicks), "loaded": loaded, "rejected": rejected.height, "duplicate": len(rows) - loaded}


def record_refusal(conn, tenant_id, reason: str, hits: int = 1, day: date | None = None) -> None:
    conn.execute(
        """INSERT INTO collector_refusals AS r (day, tenant_id, reason, hits) VALUES (%s, %s, %s, %s)
           ON CONFLICT (day, coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), reason)
           DO UPDATE SET hits = r.hits + EXCLUDED.hits, last_seen = now()""",
        (day or datetime.now(UTC).date(), tenant_id, reason[:500], hits),
    )


def _pending(root: Path) -> list[tuple[Path, dict[str, int]]]:
    """Folders (day/tenant) whose log files are not landed as they are now."""
    found = []
    if not root.is_dir():
        return found
    for day_dir in sorted(root.iterdir()):
        for folder in sorted(p for p in day_dir.iterdir() if p.is_dir()) if day_dir.is_dir() else ():
            sizes = {p.name: p.stat().st_size for p in sorted(folder.glob("*.wal"))}
            try:
                landed = json.loads((folder / MARKER).read_text())
            except (OSError, ValueError):
                landed = None
            if landed != sizes:
                found.append((folder, sizes))
    return found


def land_once(root: Path | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Land every changed (day, tenant) log; returns one summary per folder landed."""
    from allixios.db.engine import connect

    root = root or wal_root()
    summaries = []
    for folder, _sizes in _pending(root):
        day, slug = date.fromisoformat(folder.parent.name), folder.name
        lines: list[bytes] = []
        sizes: dict[str, int] = {}
        for path in sorted(folder.glob("*.wal")):
            got, size = complete_lines(path)
            lines += got
            sizes[path.name] = size
        views, clicks, broken = _fold(lines)
        with connect() as conn:
            if not conn.execute("SELECT pg_try_advisory_xact_lock(hashtext('allixios.collector.lander'))").fetchone()[0]:
                return summaries  # another worker is landing
            _write_atomic(feed_folder(day, slug) / FEED_FILE, views)
            at = now or datetime.now(UTC)
            loaded = ingest_day(conn, day, kinds=(schemas.PAGE,), now=at)
            click_summary = _load_clicks(conn, day, slug, clicks, Lookups.load(conn), at)
        (folder / MARKER).write_text(json.dumps(sizes))
        page = loaded["kinds"].get(schemas.PAGE, {})
        mine = [f for f in loaded.get("files", []) if f["source_file"] == f"{day}/{slug}/{FEED_FILE}"]
        summaries.append({"day": day.isoformat(), "tenant": slug, "log_lines": len(lines), "broken_lines": broken,
                          "views": len(views), "clicks": click_summary, "feed_file": mine[0] if mine else None,
                          "day_rows_loaded": page.get("rows_loaded", 0)})
    return summaries


def purge_old_salts() -> None:
    """Yesterday's salt goes at midnight UTC even on a day without traffic (reads also delete it)."""
    from allixios.db.engine import connect

    with connect() as conn:
        conn.execute("DELETE FROM collector_salts WHERE day < (now() AT TIME ZONE 'UTC')::date")


class Lander:
    """The background thread of an API worker: land_once every few seconds ($ALLIXIOS_COLLECTOR_LAND_INTERVAL_S)."""

    def __init__(self, interval_s: float | None = None):
        self.interval_s = interval_s or float(os.environ.get(INTERVAL_ENV) or DEFAULT_INTERVAL_S)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="collector-lander", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                purge_old_salts()
                land_once()
            except Exception:  # noqa: BLE001 - the log stays; the next tick tries again
                log.exception("collector landing failed; will retry")
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        try:
            land_once()  # what was acknowledged before shutdown lands now
        except Exception:  # noqa: BLE001
            log.exception("final collector landing failed; the log is kept and lands on the next start")
