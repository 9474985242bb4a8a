"""Helpers for the collector tests: a site with a key, events as the beacon sends them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from allixios.collector.sites import configure
from allixios.db.engine import connect

ORIGIN = "http://127.0.0.1:4599"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36"


def make_site(db, tenant, origin: str = ORIGIN, collect_url: str = "http://127.0.0.1:1", allow_headless=False):
    with connect(db) as conn:
        return configure(conn, tenant, [origin], collect_url, allow_headless)


def view_id() -> str:
    return uuid.uuid4().hex


def event(key: str, kind: str, view: str, path: str, n: int = 0, ts: datetime | None = None, **extra) -> dict:
    return {"k": key, "t": kind, "v": view, "n": n, "u": path, "ts": (ts or datetime.now(UTC)).isoformat(),
            "wd": False, **extra}


def headers(origin: str = ORIGIN, ua: str = BROWSER_UA, **more) -> dict:
    return {"Origin": origin, "User-Agent": ua, "Content-Type": "text/plain", **more}
