"""Broken internal links fixed, not only found: a link to a renamed article is rewritten to its
current slug as a new version (audited, lock-aware, re-published when the article was live); a
link to a deleted or unpublished article is reported to the editor.

Links are the internal links the link audit reads (`allixios.content.site_links.internal_targets`:
the one CommonMark parse, so reference-style links, autolinks and absolute links to the tenant's
own site count and text in code does not). A target is *renamed* when it is not a
live slug of the tenant but was the slug of one of its live articles in an earlier version
(``article_versions.slug``); the rewrite keeps any ``#fragment``, query, host and niche segment,
and touches only the lines the parse places those links on (a reference link is rewritten in its
definition). The new version goes
through the editor's path (`allixios.editorial.articles.write_version`: refused while another
actor holds an edit lock, compare-and-swap on the version, an ``audit_log`` row with the rewrites
in its details); a live article is then re-published (`publish_article`) so the fix is what
readers get. A target whose article is deleted, unpublished or unknown is left as it is and listed
in ``workflow_state.link_report`` for the editor.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from allixios.automation.maintenance import LINKS_SQL, published_links
from allixios.content import markup
from allixios.content.site_links import internal_targets, target_slug
from allixios.db.engine import fetch_dicts
from allixios.errors import AllixiosError

ACTOR = "link_fixer"


def _targets(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Per published article and broken target: what the target is now (renamed / deleted / unknown)."""
    return fetch_dicts(
        conn,
        f"""
        WITH links AS ({LINKS_SQL}
        ), broken AS (
            SELECT l.* FROM links l
            WHERE NOT EXISTS (SELECT 1 FROM articles t WHERE t.tenant_id = l.tenant_id AND t.slug = l.target
                              AND t.status = 'published' AND t.deleted_at IS NULL)
              AND NOT EXISTS (SELECT 1 FROM niches n WHERE n.tenant_id = l.tenant_id  -- a niche page
                              AND replace(n.slug, '_', '-') = l.target)
        )
        SELECT b.id AS article_id, b.tenant_id, b.target, t.id AS target_id, t.slug AS current_slug,
               CASE WHEN t.id IS NULL THEN 'unknown'
                    WHEN t.deleted_at IS NOT NULL THEN 'deleted'
                    WHEN t.status <> 'published' THEN 'unpublished'
                    ELSE 'renamed' END AS kind
        FROM broken b
        LEFT JOIN LATERAL (
            SELECT a.id, a.slug, a.status, a.deleted_at FROM article_versions v JOIN articles a ON a.id = v.article_id
            WHERE v.tenant_id = b.tenant_id AND v.slug = b.target
              AND (a.slug <> b.target OR a.deleted_at IS NOT NULL OR a.status <> 'published')
            ORDER BY (a.deleted_at IS NULL AND a.status = 'published') DESC, v.created_at DESC LIMIT 1) t ON true
        ORDER BY b.id, b.target
        """,
        published_links(conn),
    )


def _link_blocks(content: str, slugs: set[str], site_host: str) -> list[tuple[int, int, bool]]:
    """(first line, end line, has code spans) of each block holding a link, or a reference
    definition, whose target is one of ``slugs`` — read from the one CommonMark parse."""
    env: dict = {}
    blocks: list[tuple[int, int, bool]] = []
    for token in markup.parser().parse(content, env):  # the parse, with its reference definitions
        if token.map and token.type in ("inline", "html_block") \
                and slugs.intersection(internal_targets(token.content, site_host)):
            code = any(c.type == "code_inline" for c in token.children or ())
            blocks.append((token.map[0], token.map[1], code))
    for ref in (env.get("references") or {}).values():
        if ref.get("map") and target_slug(str(ref.get("href") or ""), site_host) in slugs:
            blocks.append((ref["map"][0], ref["map"][1], False))
    return blocks


_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", re.S)


def rewrite_links(content: str, renames: dict[str, str], site_host: str = "") -> tuple[str, int]:
    """Point links to the old slugs of ``renames`` at the new ones (fragment, query, host and niche
    segment kept).

    Only the blocks the CommonMark parse finds such a link (or reference definition) in are edited,
    and there only link targets (``](``, ``]:``, ``<`` autolinks, ``href=``) outside code spans;
    code blocks hold no links, so they are never touched."""
    blocks = _link_blocks(content, set(renames), site_host)
    if not blocks:
        return content, 0
    host = (r"(?:https?:)?//(?:www\.)?" + re.escape(site_host) + r"(?::\d+)?") if site_host else r"(?!)"
    pattern = re.compile(
        r"(\]\(\s*<?|^[ \t]{0,3}\[[^\]]+\]:\s*<?|<|href\s*=\s*[\"']?)"  # where a link target starts
        r"(" + host + r")?(/(?:[a-z0-9][a-z0-9-]*/)?)("
        + "|".join(re.escape(s) for s in sorted(renames, key=len, reverse=True))
        + r")(?=[/#?)\s>\"']|$)", re.M)
    count = 0

    def swap(m: re.Match) -> str:
        nonlocal count
        count += 1
        return f"{m.group(1)}{m.group(2) or ''}{m.group(3)}{renames[m.group(4)]}"

    lines = content.split("\n")
    for first, end, has_code in blocks:
        text = "\n".join(lines[first:end])
        if has_code:  # a code span that looks like a link stays as written
            pieces = _CODE_SPAN.split(text)  # text, backticks, text, ...: the spans themselves are re-found below
            spans = [m.group(0) for m in _CODE_SPAN.finditer(text)]
            prose = pieces[::2]
            text = "".join(pattern.sub(swap, p) + (spans[i] if i < len(spans) else "") for i, p in enumerate(prose))
        else:
            text = pattern.sub(swap, text)
        lines[first:end] = text.split("\n")
    return "\n".join(lines), count


def fix_internal_links(conn: psycopg.Connection) -> dict[str, Any]:
    from allixios.editorial.articles import _scores_for, current_fields, resolve_article, write_version
    from allixios.editorial.publish import publish_article
    from allixios.publishing.config import site_host
    from allixios.tenants import tenant_by_id

    by_article: dict[Any, list[dict]] = {}
    for row in _targets(conn):
        by_article.setdefault(row["article_id"], []).append(row)
    fixed, reported, skipped = [], [], []
    for article_id, rows in by_article.items():
        tenant = tenant_by_id(conn, rows[0]["tenant_id"])
        renames = {r["target"]: r["current_slug"] for r in rows if r["kind"] == "renamed"}
        report = [{"target": r["target"], "reason": r["kind"],
                   **({"article_id": str(r["target_id"])} if r["target_id"] else {})}
                  for r in rows if r["kind"] != "renamed"]
        conn.execute("UPDATE articles SET workflow_state = workflow_state || %s WHERE id = %s",
                     (Jsonb({"link_report": report}), article_id))
        reported += [{"article_id": str(article_id), **r} for r in report]
        if not renames:
            continue
        article = resolve_article(conn, tenant, str(article_id))
        was_live = article.status == "published" and article.published_version_number == article.version_number
        before = current_fields(conn, article.id)
        host = site_host(conn, tenant)
        content, count = rewrite_links(before["content"] or "", renames, host)
        try:
            # the new version carries its own scores, as an editor's edit does
            change = write_version(conn, tenant, article, {"content": content}, reason="edit", actor=ACTOR,
                                   expected_version=article.version_number, scores=_scores_for({"content": content}, before, host),
                                   details={"link_fix": {"renamed": renames, "links_rewritten": count}})
            if was_live and change.changed:
                publish_article(conn, tenant, str(article_id), actor=ACTOR, expected_version=change.after_version)
        except AllixiosError as exc:  # a lock or a concurrent edit: the editor's change wins, retried next week
            skipped.append({"article_id": str(article_id), "reason": exc.one_line()[:300]})
            continue
        fixed.append({"article_id": str(article_id), "slug": article.slug, "rewritten": count,
                      "renamed": ", ".join(f"{a} -> {b}" for a, b in renames.items())})
    return {"fixed": fixed, "reported": reported, "skipped": skipped}
