"""Internal links of an article body: which of its links point at an article of its own site.

Read from the one CommonMark parse (``markdown_text.parse_markdown``, the parse scoring, the site
renderer and the sanitiser use), never with a pattern over the text: inline, reference-style,
autolinks and raw ``<a href>`` count; text in code spans and code blocks is not a link; images and
files are not article links. Used by the SEO report's broken links and the maintenance link audit
and fixer.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from allixios.content.markdown_text import Link, parse_markdown

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")  # an article slug: no file extension, no `_assets`


def target_slug(url: str, site_host: str = "") -> str | None:
    """The article slug an internal link's URL points at, else None.

    Internal: site-relative (``/slug``, ``/slug/#part``, ``/<niche>/<slug>/``) or absolute to
    ``site_host`` (the tenant's site, ``allixios.publishing.config.site_host``; ``www.`` and port
    ignored). The slug is the last of one or two path segments (the site's ``/<slug>/`` and
    ``/<niche>/<slug>/``). Fragments, relative paths without a leading ``/`` and files are not."""
    if not Link("", url).internal_to(site_host or None):
        return None
    path = urlsplit(url.strip()).path
    segments = [s for s in path.split("/") if s]
    if path.startswith("/") and 1 <= len(segments) <= 2 and _SLUG.fullmatch(segments[-1]):
        return segments[-1]
    return None


def internal_links(markdown: str, site_host: str = "") -> list[tuple[str, str]]:
    """(href as parsed, target slug) of each internal article link, in order, without repeats."""
    seen: dict[tuple[str, str], None] = {}
    for link in parse_markdown(markdown or "").links:
        slug = target_slug(link.url, site_host)
        if slug:
            seen.setdefault((link.url, slug))
    return list(seen)


def internal_targets(markdown: str, site_host: str = "") -> list[str]:
    """Slugs of the articles ``markdown`` links to on its own site, in order, without repeats."""
    return list(dict.fromkeys(slug for _href, slug in internal_links(markdown, site_host)))
