"""Competitors fetched over HTTP, politely, into the competitor-gap landing folder.

The tenant configures the URLs (setting ``competitor_sitemaps``: ``{niche_slug: [url, ...]}``), each
a sitemap (``<urlset>``, or a ``<sitemapindex>`` whose child sitemaps on the same host are
followed) or an HTML page (its ``<title>`` becomes the candidate). Fetching is polite:

- **robots.txt** of every host is read first (`urllib.robotparser`) and a URL it disallows for our
  user agent is never requested; a robots.txt that answers 401/403 or cannot be read disallows the
  host (RFC 9309), one that is missing (4xx) allows it. Its ``Crawl-delay`` lengthens the interval.
- **rate limited per host**: at most one request every ``competitor_fetch_interval_s`` seconds
  (`HostLimiter`, which records every wait it made);
- **cached**: ``competitor_fetch_cache`` keeps each answer with its ``ETag`` / ``Last-Modified``; the
  next fetch is a conditional GET and a ``304 Not Modified`` reuses the stored body;
- **bounded**: a timeout per request, a size cap, no redirects followed (a redirect is reported with
  its target so the tenant can configure that URL), http and https only;
- **public hosts only**: a host that resolves to a loopback, private, link-local or otherwise
  non-global address (the machine itself, the cloud's metadata service, the office network) is
  refused before any request, since the URLs are the tenant's input. An operator, never a tenant,
  may allow such hosts by name in ``ALLIXIOS_COMPETITOR_PRIVATE_HOSTS`` (comma-separated; the tests
  and a lab setup use it). The check resolves the name once per host; a name that changes its
  answer between the check and the connection (DNS rebinding) is not defended against here.

Every failure is one line (``url: what happened — what to do``) in the result. What was fetched is
written as one sitemap file per configured URL under
``landing/competitors/<tenant>/<niche>/fetched-<hash>.xml``, so the gaps then flow through the one
existing path (`allixios.automation.content_gaps.find_gaps`); a URL whose fetch failed keeps its
previous file. Nothing but the configured hosts is contacted.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import socket
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse
from urllib.robotparser import RobotFileParser

import psycopg

from allixios.errors import ValidationError
from allixios.files import write_atomic
from allixios.tenants import Tenant, list_niches

USER_AGENT = "AllixiosCompetitorBot/1.0 (+content gap analysis; honours robots.txt)"
TIMEOUT_S = 10.0
MAX_BYTES = 10_000_000
MAX_CHILD_SITEMAPS = 50
_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@dataclass
class HostLimiter:
    """At most one request per host every ``interval_s`` seconds; ``waits`` records (host, seconds) slept."""

    interval_s: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    last: dict[str, float] = field(default_factory=dict)
    waits: list[tuple[str, float]] = field(default_factory=list)
    per_host: dict[str, float] = field(default_factory=dict)  # a longer interval from robots.txt Crawl-delay

    def wait(self, host: str) -> None:
        interval = max(self.interval_s, self.per_host.get(host, 0.0))
        prev = self.last.get(host)
        if prev is not None:
            delay = prev + interval - self.clock()
            if delay > 0:
                self.waits.append((host, delay))
                self.sleep(delay)
        self.last[host] = self.clock()


@dataclass
class FetchResult:
    requests: int = 0
    fetched: int = 0  # 200 answers
    not_modified: int = 0  # 304 answers: the cached body was used
    disallowed: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    entries: int = 0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: PLR0913 - urllib's signature
        return None  # urllib then raises HTTPError with the 3xx status


def check_urls(urls: list[str]) -> list[str]:
    for url in urls:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValidationError(f"competitor URL {url[:200]!r} is not an http(s) URL",
                                  fix="configure full URLs such as https://rival.example/sitemap.xml")
        if parsed.username or parsed.password:  # a credential would be stored in settings and the cache
            raise ValidationError(f"competitor URL for {parsed.hostname} carries a user name or password",
                                  fix="configure public URLs only: competitors are fetched anonymously")
    return urls


PRIVATE_HOSTS_ENV = "ALLIXIOS_COMPETITOR_PRIVATE_HOSTS"


def non_public_address(hostname: str) -> str | None:
    """The first non-global address ``hostname`` resolves to, or None (all public, or it does not
    resolve: the request then fails with its own line). Hosts the operator allows are never refused."""
    allowed = {h.strip().lower() for h in os.environ.get(PRIVATE_HOSTS_ENV, "").split(",") if h.strip()}
    if hostname.lower() in allowed:
        return None
    try:
        infos = socket.getaddrinfo(hostname, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global:
            return str(address)
    return None


class CompetitorFetcher:
    """One tenant's polite HTTP client: robots.txt per host, a per-host limiter, the conditional-GET cache."""

    def __init__(self, conn: psycopg.Connection, tenant: Tenant, *, interval_s: float | None = None,
                 timeout_s: float = TIMEOUT_S, limiter: HostLimiter | None = None) -> None:
        self.conn, self.tenant, self.timeout_s = conn, tenant, timeout_s
        interval = float(tenant.setting("competitor_fetch_interval_s") if interval_s is None else interval_s)
        self.limiter = limiter or HostLimiter(interval)
        self.robots: dict[str, RobotFileParser | None] = {}  # None: the whole host is off limits
        self.robots_error: dict[str, str] = {}
        self.refused_hosts: dict[str, str | None] = {}  # hostname -> its non-public address (None: public)
        self.result = FetchResult()
        self._opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))

    # -- HTTP ----------------------------------------------------------------------------------
    def _cached(self, url: str) -> tuple | None:
        return self.conn.execute(
            "SELECT status, etag, last_modified, body FROM competitor_fetch_cache WHERE tenant_id = %s AND url = %s",
            (self.tenant.id, url)).fetchone()

    def _store(self, url: str, status: int | None, etag=None, last_modified=None, body: bytes | None = None,
               error: str | None = None) -> None:
        self.conn.execute(
            """INSERT INTO competitor_fetch_cache (tenant_id, url, status, etag, last_modified, body, fetched_at,
                                                   checked_at, error)
               VALUES (%s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END, now(), %s)
               ON CONFLICT (tenant_id, url) DO UPDATE SET
                  status = EXCLUDED.status, checked_at = now(), error = EXCLUDED.error,
                  etag = CASE WHEN EXCLUDED.body IS NOT NULL THEN EXCLUDED.etag ELSE competitor_fetch_cache.etag END,
                  last_modified = CASE WHEN EXCLUDED.body IS NOT NULL THEN EXCLUDED.last_modified
                                       ELSE competitor_fetch_cache.last_modified END,
                  body = coalesce(EXCLUDED.body, competitor_fetch_cache.body),
                  fetched_at = coalesce(EXCLUDED.fetched_at, competitor_fetch_cache.fetched_at)""",
            (self.tenant.id, url, status, etag, last_modified, body, body is not None, error))

    def _request(self, url: str) -> tuple[int, bytes | None, str | None]:
        """(status, body, error line). 304 answers with the cached body; errors are (status or 0, None, line)."""
        host, hostname = urlparse(url).netloc, urlparse(url).hostname or ""
        if hostname not in self.refused_hosts:
            self.refused_hosts[hostname] = non_public_address(hostname)
        if self.refused_hosts[hostname] is not None:
            return self._fail(url, None, f"{hostname} resolves to the non-public address {self.refused_hosts[hostname]} "
                                         "— competitors must be public hosts; remove it from competitor_sitemaps "
                                         f"(an operator may allow it in {PRIVATE_HOSTS_ENV})")
        cached = self._cached(url)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/xml, text/xml, text/html;q=0.9, */*;q=0.5"}
        if cached and cached[3] is not None:
            if cached[1]:
                headers["If-None-Match"] = cached[1]
            if cached[2]:
                headers["If-Modified-Since"] = cached[2]
        self.limiter.wait(host)
        self.result.requests += 1
        try:
            with self._opener.open(urllib.request.Request(url, headers=headers), timeout=self.timeout_s) as resp:
                body = resp.read(MAX_BYTES + 1)
                if len(body) > MAX_BYTES:
                    return self._fail(url, 200, f"larger than {MAX_BYTES // 1_000_000} MB — split the sitemap")
                self._store(url, resp.status, resp.headers.get("ETag"), resp.headers.get("Last-Modified"), body)
                self.result.fetched += 1
                return resp.status, body, None
        except urllib.error.HTTPError as exc:
            if exc.code == 304 and cached and cached[3] is not None:
                self._store(url, 304)
                self.result.not_modified += 1
                return 304, bytes(cached[3]), None
            if 300 <= exc.code < 400:
                where = exc.headers.get("Location", "?")
                return self._fail(url, exc.code, f"redirects ({exc.code}) to {where} — configure that URL instead")
            return self._fail(url, exc.code, f"answered HTTP {exc.code} — check the URL with the competitor's site")
        except TimeoutError:
            return self._fail(url, None, f"no answer within {self.timeout_s:g} s — try later or drop the URL")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return self._fail(url, None, f"could not connect ({reason}) — check the host name and that it is up")

    def _fail(self, url: str, status: int | None, line: str) -> tuple[int, None, str]:
        self._store(url, status, error=line)
        return status or 0, None, line

    # -- robots.txt ------------------------------------------------------------------------------
    def _robots_for(self, url: str) -> RobotFileParser | None:
        parsed = urlparse(url)
        base = f"{parsed.scheme}://{parsed.netloc}"
        if base not in self.robots:
            status, body, error = self._request(base + "/robots.txt")
            parser: RobotFileParser | None = RobotFileParser(base + "/robots.txt")
            if body is not None:
                parser.parse(body.decode("utf-8", "replace").splitlines())
            elif status in (401, 403) or not (400 <= status < 500):
                parser = None  # forbidden or unreachable robots.txt: assume complete disallow (RFC 9309)
                self.robots_error[base] = f"robots.txt {error}; the host is not crawled until it answers"
            else:
                parser.parse([])  # no robots.txt: everything allowed
            if parser is not None:
                delay = parser.crawl_delay(USER_AGENT)
                if delay:
                    self.limiter.per_host[parsed.netloc] = float(delay)
            self.robots[base] = parser
        return self.robots[base]

    def allowed(self, url: str) -> bool:
        parser = self._robots_for(url)
        return parser is not None and parser.can_fetch(USER_AGENT, url)

    def get(self, url: str) -> bytes | None:
        """The body of ``url`` if robots.txt allows it and it answers; else None with the reason recorded."""
        if not self.allowed(url):
            parsed = urlparse(url)
            why = self.robots_error.get(f"{parsed.scheme}://{parsed.netloc}")
            self.result.disallowed.append(url)
            self.result.failures.append({"url": url, "reason": why or "disallowed by the host's robots.txt — "
                                                                       "not fetched; remove it from competitor_sitemaps"})
            return None
        _status, body, error = self._request(url)
        if error:
            self.result.failures.append({"url": url, "reason": error})
        return body


def _entries(fetcher: CompetitorFetcher, url: str, body: bytes, depth: int = 0) -> list[dict[str, str]] | None:
    """[{url, title?, priority?}] of a fetched sitemap, sitemap index or HTML page (None: unusable, reason recorded)."""
    head = body[:2048].lstrip().lower()
    if head.startswith(b"<!doctype html") or b"<html" in head:
        m = re.search(rb"<title[^>]*>(.*?)</title>", body, re.S | re.I)
        title = " ".join(unescape(m.group(1).decode("utf-8", "replace")).split()) if m else ""
        return [{"url": url, "title": title}] if title else []
    try:
        root = ET.fromstring(body)  # ElementTree resolves no external entities
    except ET.ParseError as exc:
        fetcher.result.failures.append({"url": url, "reason": f"not well-formed XML ({exc}) — check the sitemap URL"})
        return None
    tag = root.tag.split("}")[-1]
    if tag == "sitemapindex":
        out: list[dict[str, str]] = []
        host = urlparse(url).netloc
        children = [c.text.strip() for c in root.iter() if c.tag.split("}")[-1] == "loc" and c.text]
        for child in children[:MAX_CHILD_SITEMAPS]:
            child = urljoin(url, child)
            if urlparse(child).netloc != host or depth >= 1:
                continue  # only the configured host, one level deep
            got = fetcher.get(child)
            if got is not None:
                out += _entries(fetcher, child, got, depth + 1) or []
        return out
    if tag != "urlset":
        fetcher.result.failures.append({"url": url, "reason": f"root element is <{tag}>, not a sitemap — "
                                                              "configure the sitemap's URL"})
        return None
    out = []
    for node in root:
        if node.tag.split("}")[-1] != "url":
            continue
        entry = {}
        for c in node.iter():
            name = c.tag.split("}")[-1]
            if name in ("loc", "title", "priority") and c.text and name not in entry:
                entry[name] = c.text.strip()
        if "loc" in entry:
            out.append({"url": urljoin(url, entry["loc"]), **{k: v for k, v in entry.items() if k != "loc"}})
    return out


def _write_sitemap(path: Path, entries: list[dict[str, str]]) -> None:
    root = ET.Element("urlset", xmlns=_NS.strip("{}"))
    for e in entries:
        node = ET.SubElement(root, "url")
        ET.SubElement(node, "loc").text = e["url"]
        if e.get("title"):
            ET.SubElement(node, "title").text = e["title"]
        if e.get("priority"):
            ET.SubElement(node, "priority").text = e["priority"]
    # find_gaps never reads a half-written file
    write_atomic(path, lambda tmp: ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True))


def fetch_competitors(conn: psycopg.Connection, tenant: Tenant, *, root: Path | None = None,
                      fetcher: CompetitorFetcher | None = None) -> FetchResult:
    """Fetch every configured competitor URL of ``tenant`` into the landing folder (see the module doc)."""
    from allixios.automation.content_gaps import competitors_dir

    root = root or competitors_dir()
    config: dict[str, Any] = tenant.setting("competitor_sitemaps") or {}
    fetcher = fetcher or CompetitorFetcher(conn, tenant)
    niches = {n.slug for n in list_niches(conn, tenant)}
    for niche_slug, urls in sorted(config.items()):
        if niche_slug not in niches:
            fetcher.result.failures.append({"url": ", ".join(urls)[:200], "reason": f"niche {niche_slug!r} is not an "
                                            f"active niche of {tenant.slug!r} — fix the competitor_sitemaps setting"})
            continue
        for url in check_urls(list(urls)):
            body = fetcher.get(url)
            if body is None:
                continue
            entries = _entries(fetcher, url, body)
            if entries is None:
                continue
            name = f"fetched-{hashlib.sha256(url.encode()).hexdigest()[:12]}.xml"
            path = root / tenant.slug / niche_slug / name
            _write_sitemap(path, entries)
            fetcher.result.files.append(str(path.relative_to(root)))
            fetcher.result.entries += len(entries)
    return fetcher.result


def set_competitors(conn: psycopg.Connection, tenant: Tenant, niche_slug: str, urls: list[str]) -> dict[str, list]:
    """Replace the niche's competitor URLs (an empty list removes them); returns the whole setting."""
    from allixios.errors import NotFoundError
    from allixios.tenants import update_tenant_settings

    if niche_slug not in {n.slug for n in list_niches(conn, tenant)}:
        raise NotFoundError(f"niche {niche_slug!r} not found for tenant {tenant.slug!r}", fix="see `allixios niches list`")
    config = dict(tenant.setting("competitor_sitemaps") or {})
    if urls:
        config[niche_slug] = check_urls(urls)
    else:
        config.pop(niche_slug, None)
    return update_tenant_settings(conn, tenant.slug, {"competitor_sitemaps": config}).setting("competitor_sitemaps")
