"""`make run`'s simulated readers: today's simulated page views sent through the collector over HTTP.

The traffic simulator (allixios/analytics/simulator.py, a stand-in) writes a day's page events as
files. For the day the collector is receiving (today, UTC) this module instead posts those views as
the beacon would — ``view``, then ``engage`` with the engaged time and scroll depth, and an
affiliate ``click`` on some — to a real ``POST /v1/collect`` (an in-process uvicorn on a free port
running the collector's own app, write-ahead log and lander), waits until the lander put them in
``raw``, and removes the simulator's page files of that day so the day is counted once, from the
collector's feed. Revenue stays a file (it comes from ad and affiliate exports, not the beacon).

Still simulated: the result says "offline traffic simulator" wherever it shows. Each simulated
session gets its own user agent (the collector derives the visitor id from address and agent, and
every request comes from 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
import zlib
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

AGENTS = {
    "desktop": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.{} Safari/537.36",
    "mobile": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.{} "
              "Mobile Safari/537.36",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{} "
              "Safari/604.1",
}
CLICK_EVERY = 25  # one simulated affiliate click per this many views
CONCURRENCY = 16


class CollectorServer:
    """The collector's app on 127.0.0.1 and a free port, in a thread (its lander lands at exit)."""

    def __init__(self):
        import uvicorn

        from allixios.api.routes.collect import collector_app

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(collector_app(), log_level="warning", access_log=False,
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/collect"

    def __enter__(self) -> CollectorServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the collector did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)
        self.sock.close()


def _view_id(event_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", event_id)[-64:].rjust(8, "0")


def _views(folder: Path, paths_by_id: dict[str, str], day: date) -> list[dict]:
    """The simulator's readable page rows of one day folder (its deliberately broken lines are not
    something a browser could send; they stay with the file-ingest tests). Rows stamped outside the
    day are such lines too: a beacon stamps events as it sends them (the simulator's next-day 03:00
    stamp was refused as more than 24 h ahead whenever this ran before 03:00 UTC)."""
    from allixios.analytics import schemas
    from allixios.analytics.reading import ERROR, UnreadableFile, read_event_file

    rows: list[dict] = []
    for path in sorted(folder.glob("page_*")):
        fmt = schemas.format_of(path)
        if fmt is None or path.name.startswith("page_collector"):
            continue
        try:
            frame = read_event_file(path, fmt, schemas.SCHEMAS[schemas.PAGE]).frame
        except UnreadableFile:
            continue
        for r in frame.filter(frame[ERROR].is_null()).iter_rows(named=True):
            path_of = urlsplit(r["url"]).path if r.get("url") else paths_by_id.get(r.get("article_id") or "")
            if (path_of and path_of.startswith("/") and r.get("event_id") and r.get("timestamp")
                    and str(r["timestamp"])[:10] == day.isoformat()):
                rows.append({**r, "path": path_of})
    return rows


async def _post_all(url: str, key: str, origin: str, views: list[dict]) -> dict[int, int]:
    import httpx

    statuses: dict[int, int] = {}
    sem = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(timeout=30, trust_env=False,
                                 limits=httpx.Limits(max_connections=CONCURRENCY)) as client:
        async def one(i: int, r: dict) -> None:
            v = _view_id(r["event_id"])
            events = [{"k": key, "t": "view", "v": v, "n": 0, "u": r["path"], "ts": r["timestamp"],
                       "r": r.get("referrer") or None}]
            try:
                events.append({"k": key, "t": "engage", "v": v, "n": 1, "u": r["path"], "ts": r["timestamp"],
                               "e": float(r.get("time_on_page") or 0), "s": float(r.get("scroll_depth") or 0)})
            except ValueError:
                pass
            if i % CLICK_EVERY == 0:
                events.append({"k": key, "t": "click", "v": v, "n": 2, "u": r["path"], "ts": r["timestamp"],
                               "h": "https://shop.example/item?tag=allixios-sim", "a": True})
            session = zlib.crc32(str(r.get("session_id")).encode()) % 10**6
            agent = AGENTS.get(r.get("device") or "", AGENTS["desktop"]).format(session)
            async with sem:
                resp = await client.post(url, json=events, headers={"Origin": origin, "User-Agent": agent,
                                                                    "Content-Type": "text/plain"})
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1

        await asyncio.gather(*(one(i, r) for i, r in enumerate(views)))
    return statuses


def send_day_through_collector(conn, tenant, day: date, origin: str, collect_url: str) -> dict[str, Any]:
    """Post the simulator's views of ``day`` (today) to a collector over HTTP, land them, drop the files."""
    from allixios.analytics.ingest import feed_folder
    from allixios.collector import sites
    from allixios.collector.lander import land_once

    site = sites.for_tenant(conn, tenant.id) or sites.configure(conn, tenant, [origin], collect_url)
    conn.commit()  # the collector (another connection) must see the site
    paths = {r[0]: f"/{r[2] or 'general'}/{r[1]}/" for r in conn.execute(
        """SELECT a.id::text, a.slug, replace(n.slug, '_', '-') FROM articles a LEFT JOIN niches n ON n.id = a.niche_id
           WHERE a.tenant_id = %s""", (tenant.id,)).fetchall()}
    folder = feed_folder(day, tenant.slug)
    views = _views(folder, paths, day)
    started = time.perf_counter()
    with CollectorServer() as server:
        statuses = asyncio.run(_post_all(server.url, site.site_key, site.allowed_origins[0], views))
        for path in folder.glob("page_*"):  # the collector's feed is the day's page traffic now
            if not path.name.startswith("page_collector"):
                path.unlink()
        land_once()
    # the server's lander lands once more as it stops: everything acknowledged is in raw now
    files = conn.execute("""SELECT coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0),
                                   coalesce(sum(rows_rejected), 0), coalesce(sum(rows_duplicate), 0)
                            FROM raw.ingested_files WHERE kind = 'page' AND event_date = %s AND source_file LIKE %s""",
                         (day, f"{day.isoformat()}/{tenant.slug}/page_collector-%")).fetchone()
    clicks = conn.execute("SELECT count(*) FROM raw.link_clicks WHERE event_date = %s AND tenant_id = %s",
                          (day, tenant.id)).fetchone()[0]
    return {"collector_url": server.url, "views_sent": len(views), "accepted_requests": statuses.get(202, 0),
            "statuses": statuses, "landed": {"read": files[0], "loaded": files[1], "rejected": files[2],
                                             "duplicate": files[3]}, "clicks": clicks,
            "seconds": round(time.perf_counter() - started, 1)}
