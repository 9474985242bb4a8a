"""Move the write-ahead log into the tenant's landing feed and ``raw``, in micro-batches.

Incremental: each tick reads only the log bytes after the offsets the last landing reached
(``collector_landing.state``), never the whole day again.

The feed in the landing folder is a series of segment files ``page_collector-000001.jsonl``, … of
at most ``SEGMENT_ROWS`` page rows, each row one view (its ``view`` event) carrying the largest
engaged time and scroll depth its ``engage`` events reported so far. New views go into the open
segment; an ``engage`` event updates the segment that holds its view (normally the open one or the
one before). Only the segments a tick touched are rewritten (atomically: ``.tmp``, fsync, rename) and
re-landed in ``raw``: their rows replaced, their rejections and their ``raw.ingested_files`` record
replaced, with the same validation as every landed file (the page-event rules). A view sent twice
stays two rows in the feed, and the second is counted a duplicate, exactly as the file ingest counts
it, so ``ingest_day`` of the day (the daily analytics run) rebuilds the same rows from the same files.

Crash safety: the files are a pure function of the log up to the offsets, and the new offsets are
committed in the same transaction as the rows. A crash before the commit leaves the old offsets:
the next tick truncates the open segment back to the committed row count, drops segments beyond it
and lands the same lines again. Nothing acknowledged is lost, nothing doubles. Link clicks are
checked with the same page-event rules and inserted into ``raw.link_clicks`` keyed by their event
id (``ON CONFLICT DO NOTHING``), in the same transaction.

One lander at a time: the API worker whose lander thread holds a session advisory lock lands (the
others wait to take over if it dies); every landing also takes a transaction lock, so
``allixios collector land`` and the day's ``ingest_day`` never interleave with it.
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
from allixios.analytics.ingest import REJECTED_COLUMNS, copy_frame, feed_folder
from allixios.analytics.reading import ERROR, LINE, RAW, read_event_file
from allixios.analytics.validation import LOAD_COLUMNS, Lookups, validate
from allixios.collector.wal import read_from, wal_root
from allixios.files import write_atomic

FEED_PREFIX = "page_collector-"
FEED_GLOB = f"{FEED_PREFIX}*.jsonl"
SEGMENT_ROWS = int(os.environ.get("ALLIXIOS_COLLECTOR_SEGMENT_ROWS") or 2000)
INTERVAL_ENV = "ALLIXIOS_COLLECTOR_LAND_INTERVAL_S"
DEFAULT_INTERVAL_S = 2.0
LANDING_LOCK = "allixios.collector.lander"
OWNER_LOCK = "allixios.collector.lander.owner"
log = logging.getLogger("allixios.collector")


def segment_name(n: int) -> str:
    return f"{FEED_PREFIX}{n:06d}.jsonl"


def _empty_state() -> dict:
    return {"offsets": {}, "segment": 1, "rows": 0}


class _Folder:
    """A (day, tenant) feed as the lander knows it: the view index (view id -> segment, position)
    and the rows of the segments it has read. Rebuilt from the segment files whenever the committed
    state is not the one this copy was built for (another process landed, or a crash)."""

    def __init__(self, feed: Path, state: dict):
        self.feed, self.state = feed, json.loads(json.dumps(state))
        self.index: dict[str, tuple[int, int]] = {}
        self.rows: dict[int, list[dict]] = {}
        for seg in range(1, state["segment"] + 1):
            rows = self._read(seg)
            if seg == state["segment"]:
                rows = rows[: state["rows"]]  # lines beyond the committed count are from a crashed tick
            self.rows[seg] = rows
            for pos, row in enumerate(rows):
                self.index.setdefault(row["event_id"], (seg, pos))
        for stale in feed.glob(FEED_GLOB) if feed.is_dir() else ():
            if _segment_of(stale) > state["segment"]:
                stale.unlink()  # a segment opened by a tick that never committed

    def _read(self, seg: int) -> list[dict]:
        path = self.feed / segment_name(seg)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]

    def segment_rows(self, seg: int) -> list[dict]:
        if seg not in self.rows:
            self.rows[seg] = self._read(seg)
        return self.rows[seg]


def _segment_of(path: Path) -> int:
    try:
        return int(path.stem.removeprefix(FEED_PREFIX))
    except ValueError:
        return 0


_folders: dict[tuple[str, str], _Folder] = {}


def _fold(folder: _Folder, lines: list[bytes]) -> tuple[set[int], list[dict], int, int]:
    """Apply new log lines to the feed: (segments touched, click records, views, lines that were not JSON)."""
    touched: set[int] = set()
    clicks: list[dict] = []
    late: dict[str, tuple[float, float]] = {}
    views = broken = 0
    state = folder.state
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            broken += 1
            continue
        kind, view = rec.get("t"), rec.get("v")
        if kind == "view":
            if state["rows"] >= SEGMENT_ROWS:
                state["segment"], state["rows"] = state["segment"] + 1, 0
                folder.rows[state["segment"]] = []
            seg = state["segment"]
            rows = folder.segment_rows(seg)
            rows.append({"event_id": view, "timestamp": rec.get("ts"), "tenant": rec.get("tenant"),
                         "url": rec.get("u"), "session_id": rec.get("vh"), "visitor_hash": rec.get("vh"),
                         "referrer": rec.get("r"), "device": rec.get("dev"), "time_on_page": 0, "scroll_depth": 0})
            folder.index.setdefault(view, (seg, len(rows) - 1))
            state["rows"] = len(rows)
            touched.add(seg)
            views += 1
            if view in late:  # its engagement arrived first (another worker's log was read earlier)
                e, s = late.pop(view)
                _engage(folder, view, e, s, touched)
        elif kind == "engage":
            e, s = float(rec.get("e") or 0), float(rec.get("s") or 0)
            if not _engage(folder, view, e, s, touched):
                le, ls = late.get(view, (0.0, 0.0))
                late[view] = (max(le, e), max(ls, s))
        elif kind == "click":
            clicks.append(rec)
    return touched, clicks, views, broken


def _engage(folder: _Folder, view: str, e: float, s: float, touched: set[int]) -> bool:
    where = folder.index.get(view)
    if where is None:
        return False
    seg, pos = where
    row = folder.segment_rows(seg)[pos]
    row["time_on_page"], row["scroll_depth"] = max(row["time_on_page"], e), max(row["scroll_depth"], s)
    touched.add(seg)  # even when unchanged: the file may hold it from a tick whose rows never committed
    return True


def _write_segment(path: Path, rows: list[dict]) -> None:
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    write_atomic(path, lambda tmp: tmp.write_bytes(body), durable=True)  # its events were acknowledged


def _land_segment(conn, day: date, slug: str, tenant_id: str, folder: _Folder, seg: int, lookups: Lookups,
                  now: datetime) -> dict:
    """Replace one segment's rows, rejections and file record in raw (the caller's transaction)."""
    path = folder.feed / segment_name(seg)
    source_file = f"{day.isoformat()}/{slug}/{path.name}"
    parsed = read_event_file(path, "jsonl", schemas.SCHEMAS[schemas.PAGE])
    valid, rejected = validate(parsed.frame, schemas.PAGE, day, now, lookups, source_file, parsed.missing,
                               feed_tenant=(tenant_id, slug))
    # a view's row belongs to the segment of its first occurrence; a replay elsewhere is a duplicate
    owned_ids = [r["event_id"] for pos, r in enumerate(folder.segment_rows(seg))
                 if folder.index.get(r["event_id"]) == (seg, pos)]
    keys = ["tenant_id", "event_id"]
    first = valid.sort(LINE).filter(pl.struct(keys).is_first_distinct())
    mine = first.filter(pl.col("event_id").is_in(owned_ids))
    conn.execute("DELETE FROM raw.page_events WHERE event_date = %s AND tenant_id = %s AND event_id = ANY(%s)",
                 (day, tenant_id, owned_ids))
    conn.execute("DELETE FROM raw.rejected_events WHERE kind = %s AND event_date = %s AND source_file = %s",
                 (schemas.PAGE, day, source_file))
    conn.execute("DELETE FROM raw.ingested_files WHERE kind = %s AND event_date = %s AND source_file = %s",
                 (schemas.PAGE, day, source_file))
    if mine.height:
        copy_frame(conn, "raw.page_events", LOAD_COLUMNS[schemas.PAGE], mine.select(LOAD_COLUMNS[schemas.PAGE]))
    if rejected.height:
        copy_frame(conn, "raw.rejected_events", REJECTED_COLUMNS, rejected.select(REJECTED_COLUMNS))
    import hashlib

    data = path.read_bytes()
    counts = {"rows_read": parsed.frame.height, "rows_loaded": mine.height, "rows_rejected": rejected.height,
              "rows_duplicate": valid.height - mine.height}
    conn.execute(
        """INSERT INTO raw.ingested_files (kind, event_date, source_file, file_format, sha256, bytes,
               rows_read, rows_loaded, rows_rejected, rows_duplicate, status, error)
           VALUES (%s, %s, %s, 'jsonl', %s, %s, %s, %s, %s, %s, %s, NULL)""",
        (schemas.PAGE, day, source_file, hashlib.sha256(data).hexdigest(), len(data), counts["rows_read"],
         counts["rows_loaded"], counts["rows_rejected"], counts["rows_duplicate"],
         "partial" if rejected.height else "loaded"),
    )
    return {"source_file": source_file, **counts}


def _load_clicks(conn, day: date, slug: str, tenant_id: str, clicks: list[dict], lookups: Lookups,
                 now: datetime) -> dict:
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


def _sizes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.glob("*.wal"))}


def _pending(conn, root: Path) -> list[tuple[Path, date, str]]:
    """Folders (day/tenant) whose log files hold bytes not landed yet."""
    if not root.is_dir():
        return []
    states = {(d.isoformat(), t): s for d, t, s in
              conn.execute("SELECT day, tenant_slug, state FROM collector_landing").fetchall()}
    found = []
    for day_dir in sorted(root.iterdir()):
        if not day_dir.is_dir():
            continue
        for folder in sorted(p for p in day_dir.iterdir() if p.is_dir()):
            offsets = (states.get((day_dir.name, folder.name)) or {}).get("offsets", {})
            if any(size > offsets.get(name, 0) for name, size in _sizes(folder).items()):
                found.append((folder, date.fromisoformat(day_dir.name), folder.name))
    return found


def land_once(root: Path | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Land the new log lines of every (day, tenant); returns one summary per folder landed."""
    from allixios.db.engine import connect

    root = root or wal_root()
    summaries = []
    with connect() as conn:
        pending = _pending(conn, root)
    for wal_folder, day, slug in pending:
        with connect() as conn:
            if not conn.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", (LANDING_LOCK,)).fetchone()[0]:
                return summaries  # someone else is landing
            # the day's file ingest replaces what it loads: never at the same time as a landing
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"allixios.ingest:{schemas.PAGE}:{day}",))
            summary = _land_folder(conn, wal_folder, day, slug, now or datetime.now(UTC))
        if summary:
            _folders[(str(root), str(wal_folder))] = summary.pop("_folder")
            summaries.append(summary)
    return summaries


def _land_folder(conn, wal_folder: Path, day: date, slug: str, now: datetime) -> dict | None:
    row = conn.execute("SELECT state FROM collector_landing WHERE day = %s AND tenant_slug = %s FOR UPDATE",
                       (day, slug)).fetchone()
    committed = row[0] if row else _empty_state()
    feed = feed_folder(day, slug)
    key = (str(wal_folder.parent.parent), str(wal_folder))
    folder = _folders.get(key)
    if folder is None or folder.state != committed or folder.feed != feed:
        folder = _Folder(feed, committed)  # (re)built from the files: first tick, other lander, crash
    else:
        _folders.pop(key, None)  # in flux until this landing commits
    lines: list[bytes] = []
    offsets = dict(committed["offsets"])
    for path in sorted(wal_folder.glob("*.wal")):
        got, offsets[path.name] = read_from(path, offsets.get(path.name, 0))
        lines += got
    if not lines and offsets == committed["offsets"]:
        _folders[key] = folder
        return None
    touched, clicks, views, broken = _fold(folder, lines)
    folder.state["offsets"] = offsets
    tenant = conn.execute("SELECT id::text FROM tenants WHERE slug = %s", (slug,)).fetchone()
    if tenant is None:
        log.warning("collector log folder %s names no tenant; left in place", wal_folder)
        return None
    tenant_id = tenant[0]
    lookups = Lookups.load(conn)
    old_feed = feed / "page_collector.jsonl"  # the whole-day fold of earlier versions
    if old_feed.exists():
        old_feed.unlink()
        conn.execute("DELETE FROM raw.ingested_files WHERE kind = 'page' AND event_date = %s AND source_file = %s",
                     (day, f"{day.isoformat()}/{slug}/page_collector.jsonl"))
    segments = []
    for seg in sorted(touched):
        _write_segment(feed / segment_name(seg), folder.segment_rows(seg))
        segments.append(_land_segment(conn, day, slug, tenant_id, folder, seg, lookups, now))
    click_summary = _load_clicks(conn, day, slug, tenant_id, clicks, lookups, now)
    conn.execute(
        """INSERT INTO collector_landing (day, tenant_slug, state, landed_at) VALUES (%s, %s, %s, now())
           ON CONFLICT (day, tenant_slug) DO UPDATE SET state = EXCLUDED.state, landed_at = now()""",
        (day, slug, json.dumps(folder.state)),
    )
    return {"day": day.isoformat(), "tenant": slug, "log_lines": len(lines), "broken_lines": broken, "views": views,
            "clicks": click_summary, "segments": segments, "_folder": folder}


def purge_old_salts() -> None:
    """Yesterday's salt goes at midnight UTC even on a day without traffic (reads also delete it)."""
    from allixios.db.engine import connect

    with connect() as conn:
        conn.execute("DELETE FROM collector_salts WHERE day < (now() AT TIME ZONE 'UTC')::date")


class Lander:
    """The background thread of an API worker: land_once every few seconds ($ALLIXIOS_COLLECTOR_LAND_INTERVAL_S),
    while this worker holds the owner lock (one lander per database; another worker takes over when it dies)."""

    def __init__(self, interval_s: float | None = None):
        self.interval_s = interval_s or float(os.environ.get(INTERVAL_ENV) or DEFAULT_INTERVAL_S)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="collector-lander", daemon=True)
        self._owner = None  # a dedicated connection holding the session lock

    def start(self) -> None:
        self._thread.start()

    def _own(self) -> bool:
        import psycopg

        from allixios.db import server

        if self._owner is None or self._owner.closed:
            url = server.app_url().set(drivername="postgresql")
            self._owner = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
            self._owned = False
        if not self._owned:
            self._owned = self._owner.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (OWNER_LOCK,)).fetchone()[0]
        return self._owned

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                purge_old_salts()
                if self._own():
                    land_once()
            except Exception:  # noqa: BLE001 - the log stays; the next tick tries again
                log.exception("collector landing failed; will retry")
                if self._owner is not None:
                    self._owner.close()
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        try:
            land_once()  # what was acknowledged before shutdown lands now
        except Exception:  # noqa: BLE001
            log.exception("final collector landing failed; the log is kept and lands on the next start")
        finally:
            if self._owner is not None:
                self._owner.close()
