"""Competitor content gaps: what competitors cover and the tenant does not, as backlog topics.

Input: competitors' sitemaps (``<urlset>`` XML, the sitemap protocol) dropped as files in
``$ALLIXIOS_HOME/landing/competitors/<tenant>/<niche>/*.xml``; nothing is fetched over the
network. Each ``<loc>`` becomes a candidate title from its last path segment
(``/blog/how-to-grow-garlic-in-pots`` -> "How To Grow Garlic In Pots"; ``<news:title>`` or
``<image:title>`` when the entry has one).

A candidate is *covered*, and dropped, when its keyphrase tokens overlap an existing article's or
topic's (title or keyphrase) by a Jaccard index of at least ``COVERED_JACCARD``. The others are
ranked by estimated value — the niche's revenue per 1,000 views over the last 28 days (from
``marts.fct_niche_revenue_daily`` when built; 1.0 otherwise) x the sitemap ``<priority>`` (0.5
when absent) — and become ``pending`` topics with ``source = 'competitor'`` and ``source_ref``
"competitor gap: <host><path>". Embedding similarity is then the duplicate guard every topic goes
through at selection (`allixios.content.topic_selection.select_topics`, the real embedder and its
calibrated threshold), so a paraphrase of an existing article is rejected there with its reason.

Every file read is accounted for: candidates covered, added, already in the backlog, or the whole
file rejected with its reason (not XML, not a sitemap, too large).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import psycopg

from allixios import settings
from allixios.content.topics import TopicInput, add_topics
from allixios.db.engine import fetch_dicts
from allixios.tenants import niche_by_partition_key, niche_partition_key

COVERED_JACCARD = 0.5
MAX_FILE_BYTES = 10_000_000
STOP = {"a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "how", "what", "why", "your", "you",
        "is", "are", "at", "by", "from", "guide", "best", "vs", "do", "does", "can"}
_NS_TITLE = ("title",)


def competitors_dir() -> Path:
    return settings.landing_dir("topics").parent / "competitors"


@dataclass
class GapResult:
    files: int = 0
    candidates: int = 0
    covered: int = 0
    added: list[dict[str, Any]] = field(default_factory=list)
    already_in_backlog: int = 0
    rejected_files: list[dict[str, str]] = field(default_factory=list)


def tokens(text: str) -> set[str]:
    return {t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in STOP and len(t) > 1}


def _title_from_url(url: str) -> str | None:
    path = unquote(urlparse(url).path).rstrip("/")
    last = path.rsplit("/", 1)[-1]
    last = re.sub(r"\.(html?|php|aspx?)$", "", last)
    words = [w for w in re.split(r"[-_+\s]+", last) if w and not w.isdigit()]
    return " ".join(w.capitalize() for w in words) if len(words) >= 2 else None


def parse_sitemap(path: Path) -> list[dict[str, Any]]:
    """[{url, title, priority}] of a sitemap file; raises ValueError with the reason for a bad file."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 1_000_000} MB: split the sitemap")
    try:
        root = ET.parse(path).getroot()  # no external entities are resolved by ElementTree
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed XML ({exc}): save the competitor's sitemap as it is served") from None
    if not root.tag.endswith("urlset"):
        raise ValueError(f"root element is <{root.tag.split('}')[-1]}>, not <urlset>: drop the page sitemaps, "
                         "not the sitemap index")
    entries = []
    for url in root:
        if not url.tag.endswith("url"):
            continue
        loc = next((c.text.strip() for c in url if c.tag.endswith("loc") and c.text), None)
        if not loc:
            continue
        title = next((c.text.strip() for c in url.iter() if c.tag.split("}")[-1] in _NS_TITLE and c.text), None)
        prio = next((c.text.strip() for c in url if c.tag.endswith("priority") and c.text), None)
        try:
            priority = min(1.0, max(0.0, float(prio))) if prio else 0.5
        except ValueError:
            priority = 0.5
        title = title or _title_from_url(loc)
        if title:
            entries.append({"url": loc, "title": title[:300], "priority": priority})
    return entries


def _covered_sets(conn: psycopg.Connection, niche) -> list[set[str]]:
    rows = conn.execute(
        """SELECT title, coalesce(primary_keyphrase, '') FROM articles WHERE tenant_id = %s AND deleted_at IS NULL
           UNION ALL SELECT title, coalesce(target_keyphrase, '') FROM topics WHERE niche_id = %s""",
        (niche.tenant_id, niche.id),
    ).fetchall()
    sets = []
    for title, keyphrase in rows:
        sets.append(tokens(title))
        if keyphrase:
            sets.append(tokens(keyphrase))
    return [s for s in sets if s]


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _niche_rpm(conn: psycopg.Connection, niche) -> float:
    if conn.execute("SELECT to_regclass('marts.fct_niche_revenue_daily')").fetchone()[0] is None:
        return 1.0
    rpm = conn.execute(
        """SELECT 1000 * sum(revenue_usd) / nullif(sum(views), 0) FROM marts.fct_niche_revenue_daily
           WHERE niche_id = %s AND day > current_date - 28""", (niche.id,)).fetchone()[0]
    return float(rpm) if rpm else 1.0


def find_gaps(conn: psycopg.Connection, root: Path | None = None) -> GapResult:
    """Read every competitor sitemap under ``root``; add the uncovered pages as topics of their niche."""
    root = root or competitors_dir()
    result = GapResult()
    if not root.exists():
        return result
    for tenant_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        for niche_dir in sorted(p for p in tenant_dir.iterdir() if p.is_dir() and not p.is_symlink()):
            try:
                niche = niche_by_partition_key(conn, niche_partition_key(tenant_dir.name, niche_dir.name))
            except Exception as exc:  # noqa: BLE001 - an unknown niche rejects its files, the others go on
                for f in sorted(niche_dir.glob("*.xml")):
                    result.rejected_files.append({"file": str(f.relative_to(root)), "reason": str(exc)[:300]})
                continue
            _niche_gaps(conn, niche, sorted(niche_dir.glob("*.xml")), root, result)
    return result


def _niche_gaps(conn, niche, files: list[Path], root: Path, result: GapResult) -> None:
    covered = _covered_sets(conn, niche)
    rpm = _niche_rpm(conn, niche)
    gaps: dict[str, dict[str, Any]] = {}
    for f in files:
        result.files += 1
        if f.is_symlink():
            result.rejected_files.append({"file": str(f.relative_to(root)), "reason": "a symlink: copy the file in"})
            continue
        try:
            entries = parse_sitemap(f)
        except ValueError as exc:
            result.rejected_files.append({"file": str(f.relative_to(root)), "reason": str(exc)[:300]})
            continue
        for e in entries:
            result.candidates += 1
            t = tokens(e["title"])
            if not t or any(_jaccard(t, c) >= COVERED_JACCARD for c in covered):
                result.covered += 1
                continue
            e["value"] = round(rpm * e["priority"], 4)
            key = e["title"].lower()
            if key not in gaps or gaps[key]["value"] < e["value"]:
                gaps[key] = e
    ranked = sorted(gaps.values(), key=lambda g: (-g["value"], g["title"]))
    top = ranked[0]["value"] if ranked else 1.0
    for g in ranked:
        parsed = urlparse(g["url"])
        priority = max(1, min(100, round(100 * g["value"] / top))) if top else 50
        ids = add_topics(conn, niche, [TopicInput(g["title"], (), None, priority)], source="competitor",
                         source_ref=f"competitor gap: {parsed.netloc}{parsed.path}"[:500])
        if ids:
            result.added.append({"niche": niche.partition_key, "title": g["title"], "url": g["url"],
                                 "value": g["value"], "priority": priority})
        else:
            result.already_in_backlog += 1


def topics_from_gaps(conn: psycopg.Connection, niche_id) -> list[dict[str, Any]]:
    return fetch_dicts(conn, "SELECT id::text, title, status, source_ref FROM topics WHERE niche_id = %s "
                             "AND source = 'competitor' ORDER BY priority DESC, title", (niche_id,))
