"""The maintenance link check: crawl the built site and resolve every internal link and image.

It reads the live release's files (streaming, one page at a time) rather than guessing from the
Markdown: a link or image counts as broken only if no file answers for it in the release (a 301
in ``_redirects`` to a page that exists counts as resolving).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.types.json import Jsonb

from allixios.publishing import releases
from allixios.publishing.config import load_config
from allixios.tenants import get_tenant


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str]] = []  # (kind, url)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.refs.append(("link", a["href"]))
        elif tag == "link" and a.get("href") and a.get("rel") in ("stylesheet", "icon", "alternate"):
            self.refs.append(("asset", a["href"]))
        elif tag in ("img", "source"):
            if a.get("src"):
                self.refs.append(("image", a["src"]))
            for part in (a.get("srcset") or "").split(","):
                if part.strip():
                    self.refs.append(("image", part.strip().split()[0]))


@dataclass
class CrawlResult:
    pages: int = 0
    links: int = 0
    images: int = 0
    broken: dict[str, list[str]] = field(default_factory=dict)  # page path -> broken targets

    @property
    def broken_count(self) -> int:
        return sum(len(v) for v in self.broken.values())


def _pages(release: Path) -> Iterator[tuple[str, Path]]:
    for file in sorted(release.rglob("*.html")):
        rel = file.relative_to(release).as_posix()
        if rel.startswith("_"):
            continue
        yield "/" + (rel[: -len("index.html")] if rel.endswith("index.html") else rel), file


def _redirects(release: Path) -> dict[str, tuple[int, str]]:
    out = {}
    file = release / "_redirects"
    if file.is_file():
        for line in file.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 3:
                out[parts[0]] = (int(parts[2]), parts[1])
    return out


def _exists(release: Path, path: str) -> bool:
    rel = unquote(path).lstrip("/")
    if ".." in rel.split("/"):
        return False
    target = release / rel
    if path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target.is_file()


def crawl_release(release: Path, base_url: str = "") -> CrawlResult:
    result = CrawlResult()
    redirects = _redirects(release)
    for page_path, file in _pages(release):
        result.pages += 1
        parser = _Refs()
        parser.feed(file.read_text(encoding="utf-8"))
        for kind, url in parser.refs:
            if base_url and url.startswith(base_url + "/"):
                url = url[len(base_url):]
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue  # external, mailto: or fragment-only
            result.images += kind == "image"
            result.links += kind != "image"
            path = parts.path
            ok = _exists(release, path)
            if not ok and path in redirects:
                status, target = redirects[path]
                ok = status == 301 and _exists(release, target)
            if not ok:
                result.broken.setdefault(page_path, []).append(path)
    return result


def check_site_links(conn: psycopg.Connection) -> dict[str, int]:
    """Crawl every tenant's live release; record broken targets in articles.workflow_state.site_broken_links
    (the built pages' links and images; the source audit's findings are ``broken_links``: two checks,
    two keys, so neither overwrites the other)."""
    totals = {"tenants_crawled": 0, "pages_crawled": 0, "links_checked": 0, "images_checked": 0,
              "broken_links": 0, "pages_with_broken_links": 0}
    for (slug,) in conn.execute("SELECT slug FROM tenants WHERE deleted_at IS NULL ORDER BY slug").fetchall():
        release = releases.live_release(slug)
        if release is None:
            continue
        tenant = get_tenant(conn, slug)
        crawl = crawl_release(release, load_config(conn, tenant).base_url)
        totals["tenants_crawled"] += 1
        totals["pages_crawled"] += crawl.pages
        totals["links_checked"] += crawl.links
        totals["images_checked"] += crawl.images
        totals["broken_links"] += crawl.broken_count
        totals["pages_with_broken_links"] += len(crawl.broken)
        conn.execute(
            """UPDATE articles a SET workflow_state = jsonb_set(a.workflow_state, '{site_broken_links}', '[]'::jsonb)
               WHERE a.tenant_id = %s AND a.status = 'published' AND a.deleted_at IS NULL""", (tenant.id,))
        for page_path, targets in crawl.broken.items():
            conn.execute(
                """UPDATE articles a SET workflow_state = jsonb_set(a.workflow_state, '{site_broken_links}', %s)
                   FROM site_urls u WHERE u.tenant_id = %s AND u.path = %s AND a.id = u.article_id""",
                (Jsonb(sorted(set(targets))), tenant.id, page_path))
    return totals
