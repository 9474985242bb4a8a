"""A tenant's collecting site: its public key, allowed origins, collector URL, headless flag.

The key is public (it is in every page, as a Plausible domain is): it only says which tenant an
event belongs to. What binds it is the Origin check: a page served from another origin, or a key
that names no site, is refused with the reason.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit

import psycopg

from allixios.errors import ValidationError
from allixios.tenants import Tenant

KEY_PREFIX = "site_"
CACHE_S = 10.0  # a changed origin list or flag applies within this many seconds in every worker


@dataclass(frozen=True)
class Site:
    tenant_id: str
    tenant_slug: str
    site_key: str
    allowed_origins: tuple[str, ...]
    collect_url: str
    allow_headless: bool


def _origin(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise ValidationError(f"origin {value!r} is not scheme://host[:port]",
                              fix="give origins like https://www.example.com or http://127.0.0.1:4500")
    return f"{parts.scheme}://{parts.netloc}".lower()


def configure(conn: psycopg.Connection, tenant: Tenant, origins: list[str], collect_url: str,
              allow_headless: bool = False, rotate: bool = False) -> Site:
    """Create (or update) the tenant's site; the key is kept unless ``rotate``."""
    if not origins:
        raise ValidationError("a site needs at least one origin", fix="pass --origin https://your-site.example")
    clean = sorted({_origin(o) for o in origins})
    url = collect_url.strip()
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValidationError(f"collector URL {collect_url!r} is not http(s)",
                              fix="give the API's public address, e.g. https://api.example.com/v1/collect")
    if not urlsplit(url).path.endswith("/v1/collect"):
        url = url.rstrip("/") + "/v1/collect"
    key = KEY_PREFIX + secrets.token_urlsafe(18)
    conn.execute(
        """INSERT INTO collector_sites (tenant_id, site_key, allowed_origins, collect_url, allow_headless)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id) DO UPDATE SET allowed_origins = EXCLUDED.allowed_origins,
               collect_url = EXCLUDED.collect_url, allow_headless = EXCLUDED.allow_headless,
               site_key = CASE WHEN %s THEN EXCLUDED.site_key ELSE collector_sites.site_key END,
               updated_at = now()""",
        (tenant.id, key, clean, url, allow_headless, rotate),
    )
    _cache.clear()
    return for_tenant(conn, tenant.id)


_COLUMNS = """SELECT s.tenant_id::text, t.slug, s.site_key, s.allowed_origins, s.collect_url, s.allow_headless
              FROM collector_sites s JOIN tenants t ON t.id = s.tenant_id"""


def for_tenant(conn: psycopg.Connection, tenant_id) -> Site | None:
    row = conn.execute(_COLUMNS + " WHERE s.tenant_id = %s", (tenant_id,)).fetchone()
    return Site(row[0], row[1], row[2], tuple(row[3]), row[4], row[5]) if row else None


_cache: dict[str, tuple[float, Site | None]] = {}
_lock = threading.Lock()


def cached(site_key: str) -> tuple[bool, Site | None]:
    """(found in the cache, the site): the collector's hot path asks this before it needs a connection."""
    hit = _cache.get(site_key)
    if hit and time.monotonic() - hit[0] < CACHE_S:
        return True, hit[1]
    return False, None


def by_key(conn: psycopg.Connection, site_key: str) -> Site | None:
    """The site of a key (cached for CACHE_S: the collector's hot path)."""
    now = time.monotonic()
    hit = _cache.get(site_key)
    if hit and now - hit[0] < CACHE_S:
        return hit[1]
    row = conn.execute(_COLUMNS + " WHERE s.site_key = %s", (site_key,)).fetchone()
    site = Site(row[0], row[1], row[2], tuple(row[3]), row[4], row[5]) if row else None
    with _lock:
        if len(_cache) > 10_000:  # forged keys must not grow memory without bound
            _cache.clear()
        _cache[site_key] = (now, site)
    return site


def beacon_source() -> bytes:
    return resources.files("allixios.collector").joinpath("beacon.js").read_bytes()


def beacon_for(conn: psycopg.Connection, tenant_id) -> dict | None:
    """What a site build needs for the beacon tag (None: the tenant collects nothing): the hashed
    asset path and source, the site key and the collector URL."""
    import hashlib

    site = for_tenant(conn, tenant_id)
    if site is None:
        return None
    source = beacon_source()
    return {"path": f"/_assets/beacon-{hashlib.sha256(source).hexdigest()[:12]}.js", "source": source,
            "site_key": site.site_key, "collect_url": site.collect_url}
