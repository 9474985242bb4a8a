"""Build a tenant's static site from the live version of every published article.

A build streams the articles from PostgreSQL (a server-side cursor, ordered by URL path) and
writes a new release folder; it never holds the site in memory. Each article page has an input
hash (live version content hash, niche, author, featured image, site branding, templates) and the
list of internal links it contains; when both match the previous release's manifest, the page
file is hard-linked from that release instead of being rendered again. The release is switched
live in one rename (``releases.switch_to``) only once it is complete; any failure (a full disk,
a broken theme) removes the partial folder and leaves the live release untouched.

URL layout: ``/`` home, ``/<niche>/`` niche pages (``/<niche>/page/<n>/`` after the first),
``/<niche>/<slug>/`` articles, ``/<locale>/<niche>/<slug>/`` their translations (each article page
and sitemap entry lists its language versions as ``hreflang`` alternates, with ``x-default`` the
source; listings and feeds show the tenant's default locale), ``/<niche>/feed.xml`` Atom feeds, ``/sitemap.xml`` (an index of
``/sitemap-<n>.xml`` beyond 50,000 URLs), ``/robots.txt``, ``/404.html``, ``/410.html``,
``/_redirects`` (301 for old URLs, 410 for withdrawn articles), ``/_assets/`` and ``/_media/``
(content-hashed, cacheable for ever). Niche slugs use ``-`` in URLs; a leading ``_`` can never
start a niche or article slug, so asset folders never collide with content.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import psycopg
from markupsafe import Markup

from allixios.content import markup
from allixios.content.offline_writer import MODEL_NAME as OFFLINE_WRITER
from allixios.errors import AllixiosError, ConfigError
from allixios.publishing import media as media_lib
from allixios.publishing import releases
from allixios.publishing.config import SiteConfig, load_config, media_store
from allixios.publishing.render import SIZES, render_body, srcset
from allixios.tenants import Tenant

SITEMAP_LIMIT = 50_000  # URLs per sitemap file (sitemaps.org protocol)
FEED_ITEMS = 20
RENDER_BATCH = 200
TEMPLATES = Path(__file__).with_name("templates")
MANIFEST = ".manifest"  # article pages, sorted by path: path, input hash, link hash, output sha, links
PAGES_MANIFEST = ".manifest-pages"  # every other page: path, output sha
_NOT_SERVED = {MANIFEST, PAGES_MANIFEST}


class SiteBuildError(AllixiosError):
    """A build that could not finish; the live release is unchanged."""


def url_segment(niche_slug: str) -> str:
    return niche_slug.replace("_", "-")


# The live version of each published article, with its page path. Reused by media and link checks.
LIVE_ARTICLES_SQL = """
    SELECT a.id, v.id AS version_id, v.slug, v.title, v.meta_title, v.meta_description, v.excerpt, v.tags,
           v.content_hash, a.published_at, v.created_at AS modified_at,
           coalesce(n.slug, 'articles') AS niche_slug, coalesce(n.name, 'Articles') AS niche_name,
           au.name AS author, au.slug AS author_slug, au.job_title AS author_title,
           c.name AS category_name, c.slug AS category_slug,
           (coalesce(v.model, a.ai_model_used) = %(offline)s OR coalesce(tv.stand_in, false)) AS stand_in,
           a.featured_media_id,
           a.locale, coalesce(a.locale, t.default_locale) AS lang, coalesce(tr.source_article_id, a.id) AS group_id,
           coalesce('/' || a.locale, '') || '/' || replace(coalesce(n.slug, 'articles'), '_', '-') || '/' || v.slug || '/'
               AS path
    FROM articles a
    JOIN tenants t ON t.id = a.tenant_id
    JOIN article_versions v ON v.article_id = a.id AND v.version_number = a.published_version_number
    LEFT JOIN niches n ON n.id = a.niche_id
    LEFT JOIN authors au ON au.id = a.author_id AND au.tenant_id = a.tenant_id
    LEFT JOIN categories c ON c.id = a.category_id AND c.tenant_id = a.tenant_id
    LEFT JOIN article_translations tr ON tr.article_id = a.id
    LEFT JOIN translation_versions tv ON tv.translation_version_id = v.id
    WHERE a.tenant_id = %(tenant)s AND a.status = 'published' AND a.deleted_at IS NULL
"""


@dataclass
class BuildResult:
    tenant: str
    release: str
    base_url: str
    pages: int = 0  # article pages
    rendered: int = 0
    reused: int = 0
    other_pages: int = 0  # home, niche pages, feeds, sitemaps, robots, 404/410
    removed: int = 0
    redirects: int = 0
    gone: int = 0
    changed_urls: list[str] = field(default_factory=list)  # absolute URLs whose bytes changed (for CDN purge)
    removed_urls: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    media: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    previous_release: str | None = None
    purges: list[dict] = field(default_factory=list)  # one per CDN target: status, urls, error

    def summary(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in ("changed_urls", "removed_urls", "warnings", "purges")}
        d |= {"changed_urls": len(self.changed_urls), "removed_urls": len(self.removed_urls),
              "warnings": len(self.warnings)}
        return d


def _jsonld(obj) -> Markup:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def environment(cfg: SiteConfig):
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

    loaders = ([FileSystemLoader(str(cfg.theme_dir))] if cfg.theme_dir else []) + [FileSystemLoader(str(TEMPLATES))]
    env = Environment(loader=ChoiceLoader(loaders), autoescape=select_autoescape(["html", "xml", "css"]),
                      trim_blocks=False, keep_trailing_newline=True)
    env.filters["jsonld"] = _jsonld
    return env


def theme_fingerprint(cfg: SiteConfig) -> str:
    h = hashlib.sha256()
    for folder in ([cfg.theme_dir] if cfg.theme_dir else []) + [TEMPLATES]:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _date(value: datetime | None) -> str:
    return (value or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


def _label(value: datetime | None) -> str:
    return (value or datetime.now(UTC)).astimezone(UTC).strftime("%-d %B %Y")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:20]


class _Writer:
    """Writes files into the partial release; a path ending in '/' is that folder's index.html.

    Plain ``os`` calls on strings: a build touches every page, so per-file overhead counts."""

    def __init__(self, root: Path, previous: Path | None):
        self.root, self.previous = root, previous
        self._root_s = str(root)
        self._prev_s = str(previous) if previous is not None else None
        self._made: set[str] = set()

    def _rel(self, path: str) -> str:
        return path + "index.html" if path.endswith("/") else path

    def file_for(self, path: str) -> Path:
        return Path(self._root_s + self._rel(path))

    def _parent(self, target: str) -> None:
        parent = target[: target.rfind("/")]
        if parent not in self._made:
            try:
                os.mkdir(parent)
            except FileNotFoundError:
                os.makedirs(parent, exist_ok=True)
            except FileExistsError:
                pass
            self._made.add(parent)

    def write(self, path: str, data: bytes) -> None:
        target = self._root_s + self._rel(path)
        self._parent(target)
        with open(target, "wb") as fh:
            fh.write(data)

    def reuse(self, path: str) -> bool:
        """Hard-link the page from the previous release (False if it is not there)."""
        if self._prev_s is None:
            return False
        rel = self._rel(path)
        target = self._root_s + rel
        self._parent(target)
        try:
            os.link(self._prev_s + rel, target)
        except FileNotFoundError:
            return False
        except OSError:
            shutil.copyfile(self._prev_s + rel, target)
        return True


def _read_manifest(release: Path | None) -> Iterator[tuple[str, str, str, str, list[str]]]:
    if release is None or not (release / MANIFEST).is_file():
        return
    with open(release / MANIFEST, encoding="utf-8") as fh:
        for line in fh:
            path, base, lhash, sha, links = line.rstrip("\n").split("\t")
            yield path, base, lhash, sha, links.split(" ") if links else []


def _read_pages_manifest(release: Path | None) -> dict[str, tuple[str, str]]:
    """path -> (output sha, input hash or '') of every non-article page."""
    if release is None or not (release / PAGES_MANIFEST).is_file():
        return {}
    out = {}
    with open(release / PAGES_MANIFEST, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                path, sha, inputs = (line.rstrip("\n").split("\t") + [""])[:3]
                out[path] = (sha, inputs)
    return out


class _Resolver:
    """Internal link key -> current path of a live page, or None. Old slugs are looked up lazily."""

    def __init__(self, conn: psycopg.Connection, cfg: SiteConfig, niches: list[dict], locales: set[str] = frozenset()):
        self.conn, self.cfg = conn, cfg
        self.locales = set(locales)
        self.niche_segments = {url_segment(n["slug"]) for n in niches} | {"articles"}
        self.by_slug: dict[str, str] = {}
        with conn.cursor(name="site_slugs") as cur:
            cur.itersize = 5000
            cur.execute(f"SELECT slug, path FROM ({LIVE_ARTICLES_SQL}) live",
                        {"tenant": cfg.tenant_id, "offline": OFFLINE_WRITER})
            for slug, path in cur:
                self.by_slug[slug] = path
        self._old: dict[str, str | None] = {}

    def __call__(self, key: str) -> str | None:
        if key == "/" or key.startswith("/_"):
            return key
        parts = key.strip("/").split("/")
        if len(parts) == 3 and parts[0] in self.locales and parts[1] != "page":  # /<locale>/<niche>/<slug>/
            parts = parts[1:]
        if len(parts) == 1 and parts[0] in self.niche_segments:
            return key
        if len(parts) == 3 and parts[1] == "page" and parts[0] in self.niche_segments:
            return key
        if len(parts) == 2 and parts[0] in self.niche_segments or len(parts) == 1:
            slug = parts[-1]
        else:
            return None
        found = self.by_slug.get(slug)
        if found is not None:
            return found
        if slug not in self._old:  # an old slug of a live article, newest version first
            row = self.conn.execute(
                f"""SELECT live.path FROM article_versions v JOIN ({LIVE_ARTICLES_SQL}) live ON live.id = v.article_id
                    WHERE v.tenant_id = %(tenant)s AND v.slug = %(slug)s ORDER BY v.created_at DESC LIMIT 1""",
                {"tenant": self.cfg.tenant_id, "offline": OFFLINE_WRITER, "slug": slug},
            ).fetchone()
            self._old[slug] = row[0] if row else None
        return self._old[slug]

    def link_hash(self, links: list[str]) -> str:
        return _sha("\n".join(f"{k}={self(k)}" for k in links).encode())


class SiteBuilder:
    def __init__(self, conn: psycopg.Connection, tenant: Tenant, cfg: SiteConfig, *, full: bool = False,
                 sitemap_limit: int = SITEMAP_LIMIT):
        self.conn, self.tenant, self.cfg = conn, tenant, cfg
        self.full, self.sitemap_limit = full, sitemap_limit
        self.env = environment(cfg)
        self.fingerprint = f"{cfg.fingerprint()}:{theme_fingerprint(cfg)}"
        self.niches = [dict(zip(("slug", "name", "count", "modified"), r, strict=False)) for r in conn.execute(
            f"""SELECT niche_slug, niche_name, count(*), max(modified_at) FROM ({LIVE_ARTICLES_SQL}) live
                WHERE locale IS NULL GROUP BY niche_slug, niche_name ORDER BY niche_name""",
            {"tenant": cfg.tenant_id, "offline": OFFLINE_WRITER}).fetchall()]
        self.nav = [{"path": f"/{url_segment(n['slug'])}/", "name": n["name"]} for n in self.niches]
        self.groups = self._groups()
        self.media = media_lib.media_index(conn, cfg.tenant_id)
        self.media_by_id = {m["id"]: m for m in self.media.values()}
        self.alternates = _alternates(conn, cfg)
        self.resolve = _Resolver(conn, cfg, self.niches, {a["hreflang"] for alts in self.alternates.values()
                                                          for a in alts})
        self.templates = {name: self._template(name) for name in ("article.html", "listing.html", "404.html")}
        self.css = self._stylesheet()
        self.assets = {"css": f"/_assets/site-{_sha(self.css)[:12]}.css"}
        # the first-party beacon (allixios/collector): its tag is part of every page's inputs
        from allixios.collector.sites import beacon_for

        self.beacon = beacon_for(conn, cfg.tenant_id)
        if self.beacon:
            self.assets["beacon"] = {k: self.beacon[k] for k in ("path", "site_key", "collect_url")}
            self.fingerprint += ":" + _sha(json.dumps(self.assets["beacon"]).encode())[:12]

    def _groups(self) -> dict[str, list[dict]]:
        """The author personas and categories that have live articles: their page's facts (allixios/catalog.py)."""
        params = {"tenant": self.cfg.tenant_id, "offline": OFFLINE_WRITER}
        if not self.conn.execute("""SELECT EXISTS (SELECT 1 FROM authors WHERE tenant_id = %(tenant)s)
                                           OR EXISTS (SELECT 1 FROM categories WHERE tenant_id = %(tenant)s)""",
                                 params).fetchone()[0]:
            return {"authors": [], "categories": []}  # no personas or categories: no extra scans of the live set
        taken = {url_segment(n["slug"]) for n in self.niches}
        cols = ("slug", "name", "title", "about", "count", "modified")
        authors = [] if "authors" in taken else [dict(zip(cols, r, strict=True)) for r in self.conn.execute(
            f"""SELECT live.author_slug, live.author, live.author_title, au.bio, count(*), max(live.modified_at)
                FROM ({LIVE_ARTICLES_SQL}) live JOIN authors au ON au.tenant_id = %(tenant)s AND au.slug = live.author_slug
                WHERE live.locale IS NULL GROUP BY 1, 2, 3, 4 ORDER BY 1""", params).fetchall()]
        categories = [] if "categories" in taken else [dict(zip(cols, r, strict=True)) for r in self.conn.execute(
            f"""SELECT live.category_slug, live.category_name, NULL, c.description, count(*), max(live.modified_at)
                FROM ({LIVE_ARTICLES_SQL}) live JOIN categories c ON c.tenant_id = %(tenant)s
                     AND c.slug = live.category_slug
                WHERE live.locale IS NULL GROUP BY 1, 2, 3, 4 ORDER BY 1""", params).fetchall()]
        return {"authors": authors, "categories": categories}

    def _template(self, name: str):
        from jinja2 import TemplateError

        try:
            return self.env.get_template(name)
        except TemplateError as exc:
            raise ConfigError(f"site template {name} cannot be loaded: {exc}",
                              fix=f"correct or remove the template in the theme folder {self.cfg.theme_dir}") from None

    def _render(self, name: str, **ctx) -> bytes:
        from jinja2 import TemplateError

        try:
            return self.templates[name].render(site=self.cfg, assets=self.assets, nav=self.nav, **ctx).encode()
        except TemplateError as exc:
            raise ConfigError(f"site template {name} failed to render: {exc}",
                              fix=f"correct the template in the theme folder {self.cfg.theme_dir}") from None

    # --- pieces of a page -------------------------------------------------------------------------
    def _image(self, media_id) -> dict | None:
        m = self.media_by_id.get(media_id)
        if m is None:
            return None
        credit = "Stand-in image generated offline" if m["is_stand_in"] else None
        return {"src": m["public_path"], "srcset": srcset(m) if m["variants"] else "", "sizes": SIZES,
                "width": m["width"], "height": m["height"], "alt": m["alt_text"], "credit": credit,
                "url": self.cfg.url(m["public_path"])}

    def _input_hash(self, row: dict) -> str:
        m = self.media_by_id.get(row["featured_media_id"])
        parts = [str(row["id"]), row["content_hash"], row["niche_slug"], row["niche_name"], row["author"] or "",
                 row.get("author_slug") or "", row.get("author_title") or "", row.get("category_name") or "",
                 row.get("category_slug") or "",
                 _date(row["published_at"]), _date(row["modified_at"]), str(row["stand_in"]),
                 m["public_path"] + m["alt_text"] if m else "", self.fingerprint, self.assets["css"],
                 json.dumps(self._page_alternates(row), sort_keys=True)]
        return _sha("\x1f".join(parts).encode())

    def _page_alternates(self, row: dict) -> list[dict]:
        """The language versions of this article (itself included) once it has more than one."""
        alts = self.alternates.get(row["group_id"], [])
        return alts if len(alts) > 1 else []

    def article_page(self, row: dict, content: str) -> tuple[bytes, list[str], list[str]]:
        body = render_body(content or "", self.resolve, self.media, where=row["path"])
        cfg = self.cfg
        title = markup.plain_line(row["meta_title"] or row["title"])
        headline = markup.plain_line(row["title"])
        description = markup.plain_line(row["meta_description"] or row["excerpt"] or headline)
        canonical = cfg.url(row["path"])
        niche_path = f"/{url_segment(row['niche_slug'])}/"
        image = self._image(row["featured_media_id"])
        author = markup.plain_line(row["author"] or "") or (
            "Allixios offline writer (stand-in)" if row["stand_in"] else f"{cfg.name} editorial team")
        publisher: dict[str, Any] = {"@type": "Organization", "name": cfg.name, "url": cfg.url("/")}
        if cfg.logo_url:
            publisher["logo"] = {"@type": "ImageObject", "url": cfg.logo_url if "://" in cfg.logo_url
                                 else cfg.url(cfg.logo_url)}
        author_ld: dict[str, Any] = {"@type": "Person" if row["author"] else "Organization", "name": author}
        author_path = f"/authors/{row['author_slug']}/" if row["author"] and row.get("author_slug") else None
        if author_path:
            author_ld["url"] = cfg.url(author_path)
            if row.get("author_title"):
                author_ld["jobTitle"] = markup.plain_line(row["author_title"])
        category = markup.plain_line(row["category_name"]) if row.get("category_name") else None
        category_path = f"/categories/{row['category_slug']}/" if category else None
        article_ld: dict[str, Any] = {
            "@context": "https://schema.org", "@type": "Article", "headline": headline[:110],
            "description": description, "author": author_ld, "articleSection": category or row["niche_name"],
            "datePublished": _date(row["published_at"]), "dateModified": _date(row["modified_at"]),
            "publisher": publisher, "mainEntityOfPage": {"@type": "WebPage", "@id": canonical},
            "inLanguage": row["lang"] or cfg.language, "url": canonical,
        }
        alternates = self._page_alternates(row)
        if image:
            article_ld["image"] = [image["url"]]
        if row["tags"]:
            article_ld["keywords"] = ", ".join(markup.plain_line(t) for t in row["tags"])
        crumbs = {"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": [
            {"@type": "ListItem", "position": 1, "name": "Home", "item": cfg.url("/")},
            {"@type": "ListItem", "position": 2, "name": row["niche_name"], "item": cfg.url(niche_path)},
            {"@type": "ListItem", "position": 3, "name": headline, "item": canonical},
        ]}
        page = {"title": title, "description": description, "canonical": canonical, "noindex": row["stand_in"],
                "stand_in": row["stand_in"], "og_type": "article", "image": image, "published": _date(row["published_at"]),
                "modified": _date(row["modified_at"]), "jsonld": [article_ld, crumbs],
                "feeds": [{"title": f"{row['niche_name']} — {cfg.name}", "href": f"{niche_path}feed.xml"}],
                "lang": row["lang"] or cfg.language, "og_locale": _og_locale(row["lang"] or cfg.language),
                "alternates": alternates}
        article = {"title": headline, "niche_name": row["niche_name"], "niche_path": niche_path,
                   "stand_in": row["stand_in"], "translation": row["locale"] is not None, "author": author, "image": image,
                   "author_path": author_path, "category": category, "category_path": category_path,
                   "languages": [a for a in alternates if a["hreflang"] != "x-default"],
                   "lang": row["lang"] or cfg.language,
                   "published": page["published"], "published_label": _label(row["published_at"]),
                   "modified": page["modified"], "modified_label": _label(row["modified_at"]),
                   "body_html": Markup(body.html), "tags": [markup.plain_line(t) for t in row["tags"] or []]}
        return self._render("article.html", page=page, article=article), body.links, body.warnings

    def _card_key(self, row: dict) -> tuple:
        m = self.media_by_id.get(row["featured_media_id"])
        return (row["path"], row["title"], row["excerpt"], row["meta_description"], row["published_at"],
                row["stand_in"], m["public_path"] if m else None)

    def _card(self, row: dict) -> dict:
        img = self._image(row["featured_media_id"])
        return {"path": row["path"], "title": markup.plain_line(row["title"]),
                "excerpt": markup.plain_line(row["excerpt"] or row["meta_description"] or ""),
                "published": _date(row["published_at"]), "published_label": _label(row["published_at"]),
                "stand_in": row["stand_in"], "image": img}

    def _listing_page(self, path: str, title: str, description: str, listing: dict, noindex=False) -> bytes:
        listing = dict(listing, entries=[self._card(r) for r in listing.get("entries") or ()])
        page = {"title": title, "description": description, "canonical": self.cfg.url(path), "noindex": noindex,
                "og_type": "website", "image": None, "published": None, "jsonld": listing.pop("jsonld", []),
                "feeds": listing.pop("feeds", [])}
        template = listing.pop("template", "listing.html")
        return self._render(template, page=page, listing=listing)

    # --- the build ------------------------------------------------------------------------------
    def build(self, result: BuildResult, out: _Writer, previous: Path | None) -> list[str]:
        """Write every page into ``out``; returns the article paths new since ``previous``."""
        self._out, self._result = out, result
        self._prev_pages = {} if self.full else _read_pages_manifest(previous)
        self._pages: list[tuple[str, str, str]] = []
        self._write_assets(out, result)
        self._sitemap = _Sitemaps(self.cfg, self.sitemap_limit, self.emit)
        all_modified = [n["modified"] for n in self.niches if n["modified"]]
        self._sitemap.add("/", max(all_modified) if all_modified else None)
        for n in self.niches:
            self._sitemap.add(f"/{url_segment(n['slug'])}/", n["modified"])
        for kind, groups in self.groups.items():
            for g in groups:
                self._sitemap.add(f"/{kind}/{g['slug']}/", g["modified"])
        new_paths = self._write_articles(out, previous, result)  # adds the indexable articles to the sitemap
        self._sitemap.finish()
        self._write_listings()
        self._write_groups()
        self._write_home()
        self._write_errors()
        self.emit("/robots.txt", f"User-agent: *\nAllow: /\n\nSitemap: {self.cfg.url('/sitemap.xml')}\n".encode())
        result.removed_urls.extend(self.cfg.url(p) for p in self._prev_pages)  # pages that no longer exist
        result.other_pages = len(self._pages)
        with open(out.root / PAGES_MANIFEST, "w", encoding="utf-8") as fh:
            fh.writelines(f"{p}\t{s}\t{i}\n" for p, s, i in self._pages)
        return new_paths

    def emit(self, path: str, data: bytes, inputs: str = "") -> None:
        """Write a non-article page and note whether its bytes changed."""
        self._out.write(path, data)
        sha = _sha(data)
        self._pages.append((path, sha, inputs))
        before = self._prev_pages.pop(path, None)
        if before is None or before[0] != sha:
            self._result.changed_urls.append(self.cfg.url(path))

    def emit_listing(self, path: str, title: str, description: str, listing: dict, noindex: bool = False) -> None:
        """A listing page, hard-linked from the previous release when its inputs are the same."""
        # entries are raw rows until rendered: hash what a card shows, build cards only if rendering
        keyed = dict(listing, entries=[self._card_key(r) for r in listing.get("entries") or ()])
        inputs = _sha(json.dumps([path, title, description, keyed, noindex, self.fingerprint, self.assets["css"],
                                  self.nav], default=str, sort_keys=True).encode())
        before = self._prev_pages.get(path)
        if before is not None and before[1] == inputs and self._out.reuse(path):
            self._prev_pages.pop(path)
            self._pages.append((path, before[0], inputs))
            return
        self.emit(path, self._listing_page(path, title, description, listing, noindex), inputs)

    def _stylesheet(self) -> bytes:
        from jinja2 import TemplateError

        try:
            return self.env.get_template("site.css").render(site=self.cfg).encode()
        except TemplateError as exc:
            raise ConfigError(f"site template site.css failed: {exc}",
                              fix=f"correct the stylesheet in the theme folder {self.cfg.theme_dir}") from None

    def _write_assets(self, out: _Writer, result: BuildResult) -> None:
        out.write(self.assets["css"], self.css)
        if self.beacon:
            out.write(self.beacon["path"], self.beacon["source"])
        out.write("/favicon.ico", _favicon(self.cfg.primary_color))
        # media files are content-hashed and never rewritten, so every release can share the store:
        # one relative symlink instead of a link per file (a release stays valid after a rollback)
        store = media_store(self.cfg.tenant_slug)
        store.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(store, out.root), out.root / "_media")

    def _write_articles(self, out: _Writer, previous: Path | None, result: BuildResult) -> list[str]:
        prev_iter = iter(() if self.full else _read_manifest(previous))
        prev = next(prev_iter, None)
        new_paths: list[str] = []
        pending: list[tuple[dict, str, tuple | None]] = []  # (row, input hash, previous entry)
        to_render = 0
        manifest = open(out.root / MANIFEST, "w", encoding="utf-8")
        try:
            with self.conn.cursor(name="site_articles") as cur:
                cur.itersize = 1000
                cur.execute(f"SELECT * FROM ({LIVE_ARTICLES_SQL}) live ORDER BY path COLLATE \"C\"",
                            {"tenant": self.cfg.tenant_id, "offline": OFFLINE_WRITER})
                columns = [c.name for c in cur.description]
                for values in cur:
                    row = dict(zip(columns, values, strict=False))
                    path = row["path"]
                    while prev is not None and prev[0] < path:  # pages of the old release that are gone
                        result.removed_urls.append(self.cfg.url(prev[0]))
                        prev = next(prev_iter, None)
                    entry = None
                    if prev is not None and prev[0] == path:
                        entry, prev = prev, next(prev_iter, None)
                    else:
                        new_paths.append(path)
                    if not row["stand_in"]:  # stand-in articles carry noindex: not in the sitemap
                        indexable = [a for a in self._page_alternates(row) if not a["stand_in"]]
                        languages = sum(a["hreflang"] != "x-default" for a in indexable)
                        self._sitemap.add(path, row["modified_at"], indexable if languages > 1 else None)
                    input_hash = self._input_hash(row)
                    pending.append((row, input_hash, entry))
                    to_render += entry is None or entry[1] != input_hash
                    if to_render >= RENDER_BATCH or len(pending) >= 20 * RENDER_BATCH:
                        self._flush(pending, out, manifest, result)
                        to_render = 0
            self._flush(pending, out, manifest, result)
            while prev is not None:
                result.removed_urls.append(self.cfg.url(prev[0]))
                prev = next(prev_iter, None)
        finally:
            manifest.close()
        return new_paths

    def _flush(self, pending: list, out: _Writer, manifest, result: BuildResult) -> None:
        if not pending:
            return
        need = [row["version_id"] for row, h, e in pending if e is None or e[1] != h or
                self.resolve.link_hash(e[4]) != e[2]]
        contents = dict(self.conn.execute("SELECT id, content FROM article_versions WHERE id = ANY(%s)",
                                          (need,)).fetchall()) if need else {}
        for row, input_hash, entry in pending:
            path = row["path"]
            if row["version_id"] not in contents and entry is not None and out.reuse(path):
                manifest.write("\t".join(entry[:4]) + "\t" + " ".join(entry[4]) + "\n")
                result.reused += 1
            else:
                content = contents.get(row["version_id"])
                if content is None:
                    content = self.conn.execute("SELECT content FROM article_versions WHERE id = %s",
                                                (row["version_id"],)).fetchone()[0]
                data, links, warnings = self.article_page(row, content)
                out.write(path, data)
                sha = _sha(data)
                if entry is None or entry[3] != sha:
                    result.changed_urls.append(self.cfg.url(path))
                result.warnings.extend(warnings)
                manifest.write(f"{path}\t{input_hash}\t{self.resolve.link_hash(links)}\t{sha}\t{' '.join(links)}\n")
                result.rendered += 1
            result.pages += 1
        pending.clear()

    def _live_rows(self, order: str, limit: int | None = None, where: str = "true"):
        cur = self.conn.cursor(name=f"site_rows_{time.monotonic_ns()}")
        cur.itersize = 1000
        sql = (f"SELECT * FROM ({LIVE_ARTICLES_SQL}) live WHERE locale IS NULL AND {where} ORDER BY {order}"
               + (f" LIMIT {int(limit)}" if limit else ""))
        cur.execute(sql, {"tenant": self.cfg.tenant_id, "offline": OFFLINE_WRITER})
        columns = [c.name for c in cur.description]
        try:
            for values in cur:
                yield dict(zip(columns, values, strict=False))
        finally:
            cur.close()

    def _write_listings(self) -> None:
        per = self.cfg.per_page
        counts = {n["slug"]: n for n in self.niches}
        current, items, number, feed = None, [], 0, []

        def flush_page():
            n = counts[current]
            total = max(1, -(-n["count"] // per))
            base = f"/{url_segment(current)}/"
            path = base if number == 1 else f"{base}page/{number}/"
            prev = None if number == 1 else (base if number == 2 else f"{base}page/{number - 1}/")
            nxt = f"{base}page/{number + 1}/" if number < total else None
            heading = n["name"] if number == 1 else f"{n['name']} — page {number}"
            crumbs = {"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": [
                {"@type": "ListItem", "position": 1, "name": "Home", "item": self.cfg.url("/")},
                {"@type": "ListItem", "position": 2, "name": n["name"], "item": self.cfg.url(base)}]}
            listing = {"heading": heading, "breadcrumb": True, "entries": items[:], "item_level": 2,
                       "intro": f"{n['count']} articles in {n['name']}, newest first.",
                       "pagination": {"number": number, "total": total, "prev": prev, "next": nxt} if total > 1 else None,
                       "jsonld": [crumbs], "feeds": [{"title": f"{n['name']} — {self.cfg.name}", "href": f"{base}feed.xml"}]}
            title = f"{heading} | {self.cfg.name}"
            self.emit_listing(path, title, f"{n['name']}: articles from {self.cfg.name}, newest first"
                              + (f" (page {number})." if number > 1 else "."), listing)

        def flush_feed():
            self.emit(f"/{url_segment(current)}/feed.xml", self._feed(counts[current], feed))

        for row in self._live_rows('niche_slug COLLATE "C", published_at DESC, path COLLATE "C"'):
            if row["niche_slug"] != current:
                if current is not None:
                    if items:
                        flush_page()
                    flush_feed()
                current, items, number, feed = row["niche_slug"], [], 0, []
            if not items:
                number += 1
            items.append(row)
            if len(feed) < FEED_ITEMS:
                feed.append(row)
            if len(items) == per:
                flush_page()
                items = []
        if current is not None:
            if items:
                flush_page()
            flush_feed()

    def _write_groups(self) -> None:
        """A paginated page per author persona (/authors/<slug>/) and category (/categories/<slug>/)."""
        for kind, column in (("authors", "author_slug"), ("categories", "category_slug")):
            facts = {g["slug"]: g for g in self.groups[kind]}
            if not facts:
                continue
            current, items, number = None, [], 0
            rows = self._live_rows(f'{column} COLLATE "C", published_at DESC, path COLLATE "C"',
                                   where=f"{column} IS NOT NULL")
            for row in rows:
                if row[column] != current:
                    if items:
                        self._group_page(kind, facts[current], number, items)
                    current, items, number = row[column], [], 0
                if row[column] not in facts:
                    continue
                if not items:
                    number += 1
                items.append(row)
                if len(items) == self.cfg.per_page:
                    self._group_page(kind, facts[current], number, items)
                    items = []
            if items:
                self._group_page(kind, facts[current], number, items)

    def _group_page(self, kind: str, g: dict, number: int, items: list[dict]) -> None:
        cfg = self.cfg
        total = max(1, -(-g["count"] // cfg.per_page))
        base = f"/{kind}/{g['slug']}/"
        path = base if number == 1 else f"{base}page/{number}/"
        prev = None if number == 1 else (base if number == 2 else f"{base}page/{number - 1}/")
        nxt = f"{base}page/{number + 1}/" if number < total else None
        name = markup.plain_line(g["name"])
        heading = name if number == 1 else f"{name} — page {number}"
        about = " ".join(markup.plain_line(x) for x in (g["title"], g["about"]) if x)
        if kind == "authors":
            person = {"@type": "Person", "name": name, "url": cfg.url(base)}
            if g["title"]:
                person["jobTitle"] = markup.plain_line(g["title"])
            if g["about"]:
                person["description"] = markup.plain_line(g["about"])
            main = {"@context": "https://schema.org", "@type": "ProfilePage", "mainEntity": person, "url": cfg.url(path)}
            intro = f"{g['count']} articles by {name}, newest first."
        else:
            main = {"@context": "https://schema.org", "@type": "CollectionPage", "name": name, "url": cfg.url(path)}
            intro = f"{g['count']} articles in {name}, newest first."
        crumbs = {"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": [
            {"@type": "ListItem", "position": 1, "name": "Home", "item": cfg.url("/")},
            {"@type": "ListItem", "position": 2, "name": name, "item": cfg.url(base)}]}
        listing = {"heading": heading, "breadcrumb": True, "entries": items[:], "item_level": 2,
                   "intro": f"{about} {intro}".strip(),
                   "pagination": {"number": number, "total": total, "prev": prev, "next": nxt} if total > 1 else None,
                   "jsonld": [main, crumbs]}
        description = (about or intro) + (f" (page {number})" if number > 1 else "")
        self.emit_listing(path, f"{heading} | {cfg.name}", description, listing)

    def _feed(self, niche: dict, rows: list[dict]) -> bytes:
        cfg = self.cfg
        base = f"/{url_segment(niche['slug'])}/"
        updated = _date(max((r["modified_at"] for r in rows), default=None))
        parts = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"',
                 f' xml:lang="{xml_escape(cfg.language)}">\n',
                 f"<title>{xml_escape(niche['name'])} — {xml_escape(cfg.name)}</title>\n",
                 f'<link rel="alternate" type="text/html" href="{xml_escape(cfg.url(base))}"/>\n',
                 f'<link rel="self" type="application/atom+xml" href="{xml_escape(cfg.url(base + "feed.xml"))}"/>\n',
                 f"<id>{xml_escape(cfg.url(base))}</id>\n<updated>{updated}</updated>\n",
                 f"<author><name>{xml_escape(cfg.name)}</name></author>\n"]
        for r in rows:
            title = markup.plain_line(r["title"]) + (" (offline stand-in)" if r["stand_in"] else "")
            summary = markup.plain_line(r["excerpt"] or r["meta_description"] or "")
            parts.append(
                f"<entry>\n<title>{xml_escape(title)}</title>\n"
                f'<link rel="alternate" type="text/html" href="{xml_escape(cfg.url(r["path"]))}"/>\n'
                f"<id>urn:uuid:{r['id']}</id>\n<published>{_date(r['published_at'])}</published>\n"
                f"<updated>{_date(r['modified_at'])}</updated>\n<summary>{xml_escape(summary)}</summary>\n</entry>\n")
        parts.append("</feed>\n")
        return "".join(parts).encode()

    def _write_home(self) -> None:
        cfg = self.cfg
        items = list(self._live_rows("published_at DESC, path COLLATE \"C\"", limit=cfg.per_page))
        sections = [{"path": f"/{url_segment(n['slug'])}/", "name": n["name"], "count": n["count"]} for n in self.niches]
        site_ld = {"@context": "https://schema.org", "@type": "WebSite", "name": cfg.name, "url": cfg.url("/"),
                   "inLanguage": cfg.language}
        listing = {"heading": cfg.name, "breadcrumb": False, "entries": items, "sections": sections, "item_level": 3,
                   "intro": cfg.tagline or f"The latest articles from {cfg.name}.", "pagination": None,
                   "jsonld": [site_ld], "feeds": [{"title": f"{n['name']} — {cfg.name}", "href": f"{s['path']}feed.xml"}
                                                   for n, s in zip(self.niches, sections, strict=False)]}
        description = cfg.tagline or f"{cfg.name}: articles on " + ", ".join(n["name"] for n in self.niches) + "."
        self.emit_listing("/", cfg.name, description, listing)

    def _write_errors(self) -> None:
        for path, heading, intro in (
            ("/404.html", "Page not found", "There is no page at this address."),
            ("/410.html", "This article is no longer available", "It was withdrawn and will not come back."),
        ):
            listing = {"heading": heading, "intro": intro, "template": "404.html"}
            self.emit_listing(path, f"{heading} | {self.cfg.name}", intro, listing, noindex=True)



def _og_locale(lang: str) -> str:
    from allixios.content.locales import LOCALES

    info = LOCALES.get(lang)
    return info.og_locale if info else lang.replace("-", "_")


def _alternates(conn: psycopg.Connection, cfg: SiteConfig) -> dict[Any, list[dict]]:
    """group (source article id) -> its live language versions: {hreflang, href, path, name, stand_in},
    sorted by language, then ``x-default`` (the source). Only groups with a live translation are kept."""
    from allixios.content.locales import LOCALES

    rows = conn.execute(
        f"""SELECT group_id, lang, path, stand_in, locale IS NULL AS source FROM ({LIVE_ARTICLES_SQL}) live
            WHERE group_id IN (SELECT group_id FROM ({LIVE_ARTICLES_SQL}) g WHERE locale IS NOT NULL)
            ORDER BY group_id, lang""",
        {"tenant": cfg.tenant_id, "offline": OFFLINE_WRITER}).fetchall()
    out: dict[Any, list[dict]] = {}
    for group, lang, path, stand_in, source in rows:
        info = LOCALES.get(lang)
        entry = {"hreflang": lang, "href": cfg.url(path), "path": path, "name": info.native if info else lang,
                 "stand_in": bool(stand_in)}
        out.setdefault(group, []).append(entry)
        if source:
            out[group].append(dict(entry, hreflang="x-default"))
    for alts in out.values():
        alts.sort(key=lambda a: (a["hreflang"] == "x-default", a["hreflang"]))
    return out


class _Sitemaps:
    """sitemap.xml streamed in files of at most ``limit`` URLs; an index once there is more than one."""

    HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
    # with hreflang alternates (https://developers.google.com/search/docs/specialty/international/localized-versions)
    HEAD_XHTML = ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                  'xmlns:xhtml="http://www.w3.org/1999/xhtml">\n')

    def __init__(self, cfg: SiteConfig, limit: int, emit):
        self.cfg, self.limit, self.emit = cfg, limit, emit
        self.files: list[tuple[str, str]] = []  # (path, newest lastmod)
        self.chunk: list[str] = []
        self.newest = ""
        self.last = b""
        self.xhtml = False  # the chunk has hreflang alternates

    def add(self, path: str, lastmod: datetime | None, alternates: list[dict] | None = None) -> None:
        stamp = _date(lastmod)
        self.newest = max(self.newest, stamp)
        links = ""
        if alternates:
            self.xhtml = True
            links = "".join(f'<xhtml:link rel="alternate" hreflang="{xml_escape(a["hreflang"])}" '
                            f'href="{xml_escape(a["href"])}"/>' for a in alternates)
        self.chunk.append(f"<url><loc>{xml_escape(self.cfg.url(path))}</loc><lastmod>{stamp}</lastmod>{links}</url>\n")
        if len(self.chunk) >= self.limit:
            self._flush()

    def _flush(self) -> None:
        path = f"/sitemap-{len(self.files) + 1}.xml"
        self.last = ((self.HEAD_XHTML if self.xhtml else self.HEAD) + "".join(self.chunk) + "</urlset>\n").encode()
        self.xhtml = False
        self.emit(path, self.last)
        self.files.append((path, self.newest))
        self.chunk.clear()
        self.newest = ""

    def finish(self) -> None:
        if self.chunk or not self.files:
            self._flush()
        if len(self.files) == 1:  # one file: it is the sitemap itself (no index needed)
            self.emit("/sitemap.xml", self.last)
            return
        index = ['<?xml version="1.0" encoding="UTF-8"?>\n'
                 '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n']
        index += [f"<sitemap><loc>{xml_escape(self.cfg.url(p))}</loc><lastmod>{m}</lastmod></sitemap>\n"
                  for p, m in self.files]
        index.append("</sitemapindex>\n")
        self.emit("/sitemap.xml", "".join(index).encode())


def _favicon(colour: str) -> bytes:
    import io

    from PIL import Image

    img = Image.new("RGB", (32, 32), colour)
    buf = io.BytesIO()
    img.save(buf, "ICO", sizes=[(32, 32)])
    return buf.getvalue()


def _release_name() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _record_urls(conn: psycopg.Connection, tenant_id, new_paths: list[str]) -> None:
    if not new_paths:
        return
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS site_new_paths (path text) ON COMMIT DROP")
    conn.execute("TRUNCATE site_new_paths")
    with conn.cursor().copy("COPY site_new_paths (path) FROM STDIN") as copy:
        for p in new_paths:
            copy.write_row((p,))
    conn.execute(
        f"""INSERT INTO site_urls (tenant_id, path, article_id)
            SELECT %(tenant)s, live.path, live.id FROM ({LIVE_ARTICLES_SQL}) live JOIN site_new_paths n USING (path)
            ON CONFLICT (tenant_id, path) DO UPDATE SET article_id = EXCLUDED.article_id""",
        {"tenant": tenant_id, "offline": OFFLINE_WRITER},
    )


def _write_redirects(conn: psycopg.Connection, tenant_id, root: Path, result: BuildResult) -> None:
    """`_redirects` (Netlify format): every URL ever served that is not its article's page any more."""
    with open(root / "_redirects", "w", encoding="utf-8") as fh, conn.cursor(name="site_redirects") as cur:
        cur.itersize = 5000
        cur.execute(
            f"""SELECT u.path, live.path FROM site_urls u LEFT JOIN ({LIVE_ARTICLES_SQL}) live ON live.id = u.article_id
                WHERE u.tenant_id = %(tenant)s AND live.path IS DISTINCT FROM u.path ORDER BY u.path COLLATE "C" """,
            {"tenant": tenant_id, "offline": OFFLINE_WRITER},
        )
        for old, new in cur:
            if new is None:
                fh.write(f"{old} /410.html 410\n")
                result.gone += 1
            else:
                fh.write(f"{old} {new} 301\n")
                result.redirects += 1


def build_site(conn: psycopg.Connection, tenant: Tenant, *, base_url: str | None = None, full: bool = False,
               with_media: bool = True, sitemap_limit: int = SITEMAP_LIMIT) -> BuildResult:
    """Build the tenant's site into a new release and switch it live. See the module docstring."""
    started = time.perf_counter()
    cfg = load_config(conn, tenant, base_url=base_url)
    result = BuildResult(tenant=tenant.slug, release=_release_name(), base_url=cfg.base_url)
    result.warnings.extend(cfg.warnings)
    root = releases.releases_dir(tenant.slug)
    previous = releases.live_release(tenant.slug)
    if previous is not None and conn.execute(
            "SELECT 1 FROM site_releases WHERE tenant_id = %s AND release_name = %s", (tenant.id, previous.name)
    ).fetchone() is None:
        # a release the database does not know (restored or foreign folder): trust nothing in it
        result.warnings.append(f"live release {previous.name} is not recorded for {tenant.slug}; building in full")
        previous = None
    result.previous_release = previous.name if previous else None
    partial = root / f".{result.release}.partial"
    written = ""
    try:
        if with_media:
            written = "the media store"
            m = media_lib.ensure_media(conn, cfg)
            result.media = {"imported": m.imported, "generated_stand_ins": m.generated, "featured_set": m.featured_set}
            result.warnings.extend(m.warnings)
        written = ""
        root.mkdir(parents=True, exist_ok=True)
        partial.mkdir()
        builder = SiteBuilder(conn, tenant, cfg, full=full, sitemap_limit=sitemap_limit)
        out = _Writer(partial, previous)
        new_paths = builder.build(result, out, previous)
        written = "the URL table"
        _record_urls(conn, tenant.id, new_paths)
        _write_redirects(conn, tenant.id, partial, result)
        final = root / result.release
        partial.rename(final)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        what = exc.filename or written or partial
        live = result.previous_release or "none (no site was live)"
        raise SiteBuildError(
            f"site build of {tenant.slug!r} stopped: {exc.strerror or exc} while writing {what}; "
            f"the live release {live} is unchanged",
            fix=f"free disk space under {root.parent} (or fix its permissions) and run `allixios site build` again",
        ) from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    result.removed = len(result.removed_urls)
    result.seconds = round(time.perf_counter() - started, 3)
    conn.execute("UPDATE site_releases SET status = 'superseded' WHERE tenant_id = %s AND status = 'live'", (tenant.id,))
    conn.execute(
        """INSERT INTO site_releases (tenant_id, release_name, status, base_url, pages, rendered, reused, removed,
                  redirects, gone, warnings, finished_at)
           VALUES (%s, %s, 'live', %s, %s, %s, %s, %s, %s, %s, %s, now())""",
        (tenant.id, result.release, cfg.base_url, result.pages, result.rendered, result.reused, result.removed,
         result.redirects, result.gone, json.dumps(result.warnings[:200])),
    )
    releases.switch_to(tenant.slug, result.release)
    releases.prune(conn, tenant.id, tenant.slug, cfg.keep_releases)
    # once live, the tenant's CDNs forget what this release changed or removed (nothing to do without a
    # CDN target; a failing CDN stays pending with its error and never undoes the deploy)
    from allixios.publishing.publications import purge_urls

    result.purges = purge_urls(conn, tenant.id, result.changed_urls + result.removed_urls)
    return result


def site_status(conn: psycopg.Connection, tenant: Tenant) -> dict[str, Any]:
    from allixios.db.engine import fetch_dicts

    live = releases.live_release(tenant.slug)
    rows = fetch_dicts(conn, """SELECT release_name AS release, status, pages, rendered, reused, removed, redirects,
                                       gone, jsonb_array_length(warnings) AS warnings, base_url, finished_at
                                FROM site_releases WHERE tenant_id = %s AND status <> 'pruned'
                                ORDER BY release_name DESC LIMIT 20""", (tenant.id,))
    kept = set(releases.list_releases(tenant.slug))
    for r in rows:
        r["kept"] = r["release"] in kept
    live_articles = conn.execute(f"SELECT count(*) FROM ({LIVE_ARTICLES_SQL}) live",
                                 {"tenant": tenant.id, "offline": OFFLINE_WRITER}).fetchone()[0]
    return {"tenant": tenant.slug, "live_release": live.name if live else None,
            "folder": str(releases.current_link(tenant.slug)), "live_articles": live_articles, "releases": rows}


def render_article_page(conn: psycopg.Connection, tenant: Tenant, article_id) -> tuple[str, list[str]]:
    """The page of one article as the site renders it: its live version when published, else a preview of
    its current fields (marked noindex). Returns (html, warnings). Nothing is written."""
    cfg = load_config(conn, tenant)
    builder = SiteBuilder(conn, tenant, cfg)
    params = {"tenant": tenant.id, "offline": OFFLINE_WRITER, "article": article_id}
    cur = conn.execute(f"SELECT * FROM ({LIVE_ARTICLES_SQL}) live WHERE id = %(article)s", params)
    values = cur.fetchone()
    preview = values is None
    if preview:
        cur = conn.execute(
            """SELECT a.id, NULL::uuid AS version_id, a.slug, a.title, a.meta_title, a.meta_description, a.excerpt,
                      a.tags, a.content_hash, a.published_at, a.updated_at AS modified_at,
                      coalesce(n.slug, 'articles') AS niche_slug, coalesce(n.name, 'Articles') AS niche_name,
                      au.name AS author, au.slug AS author_slug, au.job_title AS author_title,
                      c.name AS category_name, c.slug AS category_slug,
                      a.ai_model_used = %(offline)s AS stand_in, a.featured_media_id,
                      a.locale, coalesce(a.locale, t.default_locale) AS lang, a.id AS group_id,
                      coalesce('/' || a.locale, '') || '/' || replace(coalesce(n.slug, 'articles'), '_', '-') || '/'
                          || a.slug || '/' AS path,
                      a.content
               FROM articles a JOIN tenants t ON t.id = a.tenant_id LEFT JOIN niches n ON n.id = a.niche_id
               LEFT JOIN authors au ON au.id = a.author_id AND au.tenant_id = a.tenant_id
               LEFT JOIN categories c ON c.id = a.category_id AND c.tenant_id = a.tenant_id
               WHERE a.tenant_id = %(tenant)s AND a.id = %(article)s""", params)
        values = cur.fetchone()
    row = dict(zip([c.name for c in cur.description], values, strict=True))
    content = row.pop("content", None) if preview else conn.execute(
        "SELECT content FROM article_versions WHERE id = %s", (row["version_id"],)).fetchone()[0]
    if preview:
        row["stand_in"] = True if row["stand_in"] is None else row["stand_in"]
    data, _, warnings = builder.article_page(row, content)
    text = data.decode()
    if preview:  # a page that is not live must not be indexable if someone publishes the preview by hand
        text = text.replace('<meta name="theme-color"', '<meta name="robots" content="noindex">\n<meta name="theme-color"', 1)
        warnings = ["not published: this is a preview of the current version"] + warnings
    return text, warnings
