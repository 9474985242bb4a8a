"""Who a visitor is without cookies, and who is not a visitor at all.

Visitor id: SHA-256 of (daily salt, site, IP, user agent), as Plausible does. The salt is random
per UTC day, shared by the workers through ``collector_salts``, and every read deletes the rows of
earlier days, so yesterday's visitors cannot be linked to today's. The IP is never stored.

Bots: a user agent naming a crawler, an HTTP library or a headless browser, or a page reporting
``navigator.webdriver``, is refused, unless the site allows headless browsers (browser tests).
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import threading
from datetime import UTC, date, datetime

import psycopg

BOT_UA = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|scrap|fetch|monitor|preview|archiver|facebookexternalhit|"
    r"curl|wget|httpie|python-requests|python-urllib|aiohttp|httpx|go-http-client|java/|okhttp|"
    r"libwww|node-fetch|axios|postman|lighthouse|pagespeed|gtmetrix|pingdom|uptime|"
    r"phantomjs|puppeteer|playwright|selenium|cypress",
    re.IGNORECASE,
)
HEADLESS_UA = re.compile(r"headlesschrome|headless", re.IGNORECASE)

_salt: tuple[date, bytes] | None = None
_lock = threading.Lock()


def daily_salt(conn: psycopg.Connection, today: date | None = None) -> bytes:
    global _salt
    today = today or datetime.now(UTC).date()
    with _lock:
        if _salt and _salt[0] == today:
            return _salt[1]
    conn.execute("DELETE FROM collector_salts WHERE day < %s", (today,))
    conn.execute("INSERT INTO collector_salts (day, salt) VALUES (%s, %s) ON CONFLICT (day) DO NOTHING",
                 (today, secrets.token_bytes(32)))
    salt = bytes(conn.execute("SELECT salt FROM collector_salts WHERE day = %s", (today,)).fetchone()[0])
    with _lock:
        _salt = (today, salt)
    return salt


def cached_salt(today: date) -> bytes | None:
    """Today's salt if this process has it already (no connection needed)."""
    current = _salt
    return current[1] if current and current[0] == today else None


def visitor_hash(salt: bytes, site_key: str, ip: str, user_agent: str) -> str:
    return hashlib.sha256(b"\x1f".join([salt, site_key.encode(), ip.encode(), user_agent.encode()])).hexdigest()[:32]


@functools.lru_cache(maxsize=8192)
def _agent_kind(user_agent: str) -> str:
    """"none", "bot", "headless" or "browser" (cached: the long regex was a tenth of an accept, and
    readers' user agents repeat)."""
    if not user_agent.strip():
        return "none"
    if BOT_UA.search(user_agent):
        return "bot"
    return "headless" if HEADLESS_UA.search(user_agent) else "browser"


def bot_reason(user_agent: str, webdriver: bool, allow_headless: bool) -> str | None:
    """Why this request is not a reader, or None."""
    kind = _agent_kind(user_agent[:1024])
    if kind == "none":
        return "bot: no User-Agent"
    if kind == "bot":
        return "bot: user agent of a crawler or HTTP library"
    if not allow_headless and (kind == "headless" or webdriver):
        return "bot: headless browser (navigator.webdriver or HeadlessChrome); a site may allow them for tests"
    return None


def device(user_agent: str) -> str:
    ua = user_agent.lower()
    if "ipad" in ua or "tablet" in ua:
        return "tablet"
    if "mobi" in ua or "android" in ua or "iphone" in ua:
        return "mobile"
    return "desktop"
