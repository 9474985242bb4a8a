"""Internal-link suggestions applied: accepted by an editor, or automatically within a per-article cap.

A suggestion (`allixios.content.internal_links.link_report`) names a source, a target and an anchor
taken from the source's own words. Applying it turns the first occurrence of the anchor in the
source's prose (outside headings, existing links, images, code and HTML) into ``[anchor](/target)``
and writes that as a new version through the editor's path
(`allixios.editorial.articles.write_version`: refused while another actor holds an edit lock,
compare-and-swap on the version, an ``audit_log`` row whose details carry ``link_applied``). A live
source is re-published in the same transaction so readers get the link; when the new version
misses the tenant's bars nothing is written at all.

Idempotent: the source row is locked first, and a source that already links to the target (in its
text, whoever put it there) gets no new version; ``internal_link_applications`` keeps one row per
(source, target) with who applied it and how (``accepted`` / ``auto``).

Automatic application (`auto_apply_links`) is off by default: the tenant setting ``auto_link_cap``
(links Allixios may add to one article on its own, over the article's life) or its per-niche
override ``auto_link_cap_by_niche`` turns it on. Within the cap it takes the best-ranked
suggestions, whose score already prefers targets that earn revenue, are forecast to decay or are
orphaned.

Tenants: every article is resolved through the tenant (`resolve_article`), so an id or slug of
another tenant's article is reported exactly like an unknown one.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from allixios.content.internal_links import anchor_for, link_report
from allixios.content.site_links import internal_targets
from allixios.errors import AllixiosError, ValidationError
from allixios.publishing.config import site_host
from allixios.tenants import Tenant, list_niches

AUTO_ACTOR = "link_suggester"
# inside a paragraph, where a new link must not go: inline code, inline and reference links and
# images, autolinks and inline HTML (markdown-it gives block lines, not character offsets, so the
# inline spans are found on the source text of the paragraph lines the parse says are prose)
_INLINE_MASKED = re.compile(r"`[^`\n]*`|!?\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])|<[^>\n]+>")


def _masked_spans(markdown: str) -> list[tuple[int, int]]:
    """Character spans of ``markdown`` a new link must not touch. The blocks come from the one parse
    (`markup.parse`): only lines of paragraphs (in lists and quotes too) are free; headings, tables,
    code blocks, HTML blocks and link definitions are masked whole."""
    from allixios.content.markup import parse

    free_lines: set[int] = set()
    for token in parse(markdown):
        if token.type == "paragraph_open" and token.map:
            free_lines.update(range(*token.map))
    spans = [m.span() for m in _INLINE_MASKED.finditer(markdown)]
    for number, line in enumerate(re.finditer(r"[^\n]*\n?", markdown)):
        if number not in free_lines and line.end() > line.start():
            spans.append(line.span())
    return spans


def insert_link(markdown: str, anchor: str, slug: str) -> str | None:
    """``markdown`` with the first free occurrence of ``anchor`` linked to ``/slug``, or None if there is none.

    The text linked is the source's own spelling of the anchor (case and spacing kept).
    """
    words = anchor.split()
    if not words:
        return None
    pattern = re.compile(r"(?<![\w-])" + r"\s+".join(re.escape(w) for w in words) + r"(?![\w-])", re.I)
    spans = _masked_spans(markdown)
    for m in pattern.finditer(markdown):
        if any(a < m.end() and m.start() < b for a, b in spans):
            continue
        if "\n\n" in m.group(0):
            continue  # an anchor never spans paragraphs
        return f"{markdown[:m.start()]}[{m.group(0)}](/{slug}){markdown[m.end():]}"
    return None


def links_to(markdown: str, slug: str, site_host: str = "") -> bool:
    """Whether ``markdown`` already links to article ``slug`` (read by the one parse: any link form)."""
    return slug in internal_targets(markdown, site_host)


def apply_link(conn: psycopg.Connection, tenant: Tenant, source_ref: str, target_ref: str, *,
               actor: str, anchor: str | None = None, mode: str = "accepted",
               reason: str | None = None, host: str | None = None) -> dict[str, Any]:
    """Link ``source`` to ``target`` (both of ``tenant``, by id or slug) as a new version; see the module doc.

    Returns {source, target, anchor, changed, version, published}. ``changed`` is False when the source
    already links to the target. ``host``: the tenant's site host when the caller has it already (a
    batch of suggestions); looked up otherwise.
    """
    from allixios.editorial.articles import _scores_for, current_fields, resolve_article, write_version
    from allixios.editorial.publish import publish_article

    source = resolve_article(conn, tenant, source_ref, for_update=True)  # serialises two accepts of one source
    target = resolve_article(conn, tenant, target_ref)
    if source.id == target.id:
        raise ValidationError(f"article {source.slug!r} cannot link to itself", fix="choose another target")
    if target.deleted_at is not None or target.status != "published":
        raise ValidationError(f"target {target.slug!r} is not a live article (status {target.status})",
                              fix="link to a published article, or publish the target first")
    before = current_fields(conn, source.id)
    content = before["content"] or ""
    out = {"source": source.slug, "target": target.slug, "mode": mode}
    if links_to(content, target.slug, site_host(conn, tenant) if host is None else host):
        return out | {"anchor": None, "changed": False, "version": source.version_number, "published": False}
    if anchor is None:  # the suggestion as the latest SEO report made it, else the same rule afresh
        reported = conn.execute(
            """SELECT s ->> 'anchor', s ->> 'reason' FROM seo_reports r, jsonb_array_elements(r.link_suggestions) s
               WHERE r.tenant_id = %s AND s ->> 'source' = %s AND s ->> 'target' = %s
               ORDER BY r.report_date DESC, r.created_at DESC LIMIT 1""",
            (tenant.id, source.slug, target.slug)).fetchone()
        if reported and insert_link(content, reported[0] or "", target.slug) is not None:
            anchor, reason = reported[0], reason or reported[1]
        else:
            keyphrase = conn.execute("SELECT primary_keyphrase FROM articles WHERE id = %s", (target.id,)).fetchone()[0]
            anchor = anchor_for(content, keyphrase, target.title)
        if anchor is None:
            raise ValidationError(
                f"article {source.slug!r} has no words of {target.slug!r}'s keyphrase or title outside its headings "
                "and links", fix="pass --anchor with words that occur in the source's text")
    new_content = insert_link(content, anchor, target.slug)
    if new_content is None:
        raise ValidationError(f"the anchor {anchor!r} does not occur in the prose of {source.slug!r} "
                              "(outside headings, links and code)",
                              fix="pass an anchor made of the source's own words, or leave --anchor out")
    anchor_text = re.search(r"\[([^\]]*)\]\(/" + re.escape(target.slug) + r"\)", new_content).group(1)
    was_live = source.status == "published" and source.published_version_number == source.version_number
    with conn.transaction():  # the link and its publication, or nothing
        change = write_version(
            conn, tenant, source, {"content": new_content}, reason="edit", actor=actor,
            expected_version=source.version_number, scores=_scores_for({"content": new_content}, before),
            details={"link_applied": {"target": target.slug, "target_id": str(target.id), "anchor": anchor_text,
                                      "mode": mode, **({"reason": reason} if reason else {})}})
        version, published = change.after_version, False
        if was_live:
            pub = publish_article(conn, tenant, str(source.id), actor=actor, expected_version=change.after_version)
            version, published = pub.after_version, pub.changed
        conn.execute(
            """INSERT INTO internal_link_applications
                   (tenant_id, source_article_id, target_article_id, anchor, mode, actor, version_number, reason)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (source_article_id, target_article_id) DO UPDATE
                  SET anchor = EXCLUDED.anchor, mode = EXCLUDED.mode, actor = EXCLUDED.actor,
                      version_number = EXCLUDED.version_number, reason = EXCLUDED.reason, applied_at = now()""",
            (tenant.id, source.id, target.id, anchor_text, mode, actor, version, reason))
    return out | {"anchor": anchor_text, "changed": True, "version": version, "published": published}


MAX_AUTO_LINK_CAP = 20


def check_cap(cap: Any) -> int:
    if isinstance(cap, bool) or not isinstance(cap, int) or not 0 <= cap <= MAX_AUTO_LINK_CAP:
        raise ValidationError(f"automatic link cap {cap!r} is not a whole number from 0 to {MAX_AUTO_LINK_CAP}",
                              fix="set it with `allixios links cap N [--niche SLUG]` (0 turns it off)")
    return cap


def auto_link_cap(tenant: Tenant, niche_slug: str) -> int:
    by_niche = tenant.setting("auto_link_cap_by_niche") or {}
    return check_cap(by_niche.get(niche_slug, tenant.setting("auto_link_cap")))


def set_auto_link_cap(conn: psycopg.Connection, tenant: Tenant, cap: int, niche_slug: str | None = None) -> Tenant:
    """The tenant's cap, or a niche's override of it (``cap`` None with a niche: back to the tenant's)."""
    from allixios.errors import NotFoundError
    from allixios.tenants import update_tenant_settings

    if niche_slug is None:
        return update_tenant_settings(conn, tenant.slug, {"auto_link_cap": check_cap(cap)})
    if niche_slug not in {n.slug for n in list_niches(conn, tenant)}:
        raise NotFoundError(f"niche {niche_slug!r} not found for tenant {tenant.slug!r}", fix="see `allixios niches list`")
    by_niche = dict(tenant.setting("auto_link_cap_by_niche") or {})
    if cap is None:
        by_niche.pop(niche_slug, None)
    else:
        by_niche[niche_slug] = check_cap(cap)
    return update_tenant_settings(conn, tenant.slug, {"auto_link_cap_by_niche": by_niche})


def auto_apply_links(conn: psycopg.Connection, tenant: Tenant, *, actor: str = AUTO_ACTOR) -> dict[str, list]:
    """Apply the best suggestions of every niche of ``tenant`` within its per-article cap (0: off)."""
    applied: list[dict] = []
    skipped: list[dict] = []
    host = site_host(conn, tenant)
    for niche in list_niches(conn, tenant):
        cap = auto_link_cap(tenant, niche.slug)
        if cap <= 0:
            continue
        used = dict(conn.execute(
            """SELECT a.slug, count(*) FROM internal_link_applications l JOIN articles a ON a.id = l.source_article_id
               WHERE l.tenant_id = %s AND l.mode = 'auto' GROUP BY a.slug""", (tenant.id,)).fetchall())
        report = link_report(conn, tenant.id, niche.id, per_article=cap, site_host=host)
        for s in sorted(report["link_suggestions"], key=lambda s: (s["source"], -s["score"], s["target"])):
            if used.get(s["source"], 0) >= cap:
                continue
            try:
                with conn.transaction():
                    res = apply_link(conn, tenant, s["source"], s["target"], actor=actor, anchor=s["anchor"],
                                     mode="auto", reason=s["reason"], host=host)
            except AllixiosError as exc:  # a lock, a concurrent edit, the bars: the editor's state wins
                skipped.append({"source": s["source"], "target": s["target"], "reason": exc.one_line()[:300]})
                continue
            if res["changed"]:
                used[s["source"]] = used.get(s["source"], 0) + 1
                applied.append(res | {"niche": niche.slug, "score": s["score"], "why": s["reason"]})
    return {"applied": applied, "skipped": skipped}


def applied_links(conn: psycopg.Connection, tenant: Tenant, limit: int = 100) -> list[dict[str, Any]]:
    from allixios.db.engine import fetch_dicts

    return fetch_dicts(
        conn,
        """SELECT s.slug AS source, t.slug AS target, l.anchor, l.mode, l.actor, l.version_number AS version,
                  l.applied_at FROM internal_link_applications l
           JOIN articles s ON s.id = l.source_article_id JOIN articles t ON t.id = l.target_article_id
           WHERE l.tenant_id = %s ORDER BY l.applied_at DESC, l.id DESC LIMIT %s""", (tenant.id, limit))
