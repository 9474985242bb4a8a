"""Regenerating existing articles: a new version that fixes the failing assessments.

For refresh (score drops) and for articles waiting in needs_revision. Each article gets a revision
brief (prompt ``revise_v1``: its current body and the assessments it fails), one LLM call
(request id ``revise:<article>:v<version>``, so repeating the same revision is answered from the
ledger), and a new version (reason ``regenerated`` or ``refresh``) written with compare-and-swap on
the version that was read: an editor's change in the meantime wins and the revision is dropped.
Locked and deleted articles are skipped. The slug never changes (URLs stay stable).

Status after a revision: passing the tenant's bars, a published article is re-published (new
'published' version) and an unpublished one becomes ``scored``; failing, the article becomes
``needs_revision`` while ``published_version_number`` keeps pointing at the version that is live.

A ``refresh`` of a published article is stricter: the new draft must pass the bars and score at
least as well as the live version (quality + SEO); otherwise nothing is written to the article,
the live version stays, and why is recorded (outcome ``kept_live``, ``workflow_state.refresh``).
The candidate text itself stays in the AI ledger (``ai_usage.response_text``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from uuid import UUID

from psycopg.types.json import Jsonb
from sqlalchemy.engine import URL

from allixios.content import stand_in
from allixios.content.drafting import Draft, DraftBrief, build_draft_messages, parse_draft
from allixios.content.partition import Bars
from allixios.content.scoring import ArticleDoc, score_article
from allixios.content.versions import append_version
from allixios.db.engine import connect, fetch_dicts
from allixios.errors import ConflictError
from allixios.publishing.config import site_host
from allixios.tenants import tenant_by_id

REVISION_REASONS = ("regenerated", "refresh")


@dataclass
class RevisionOutcome:
    article_id: str
    status: str  # revised | kept_live | skipped | failed | conflict
    detail: str = ""
    version: int | None = None
    quality: int | None = None
    seo: int | None = None
    passed: bool = False
    republished: bool = False
    cost_usd: float = 0.0


@dataclass
class _Job:
    article: dict
    brief: DraftBrief
    messages: list[dict]
    prompt_version: str

    @property
    def request_id(self) -> str:
        return f"revise:{self.article['id']}:v{self.article['version_number']}"


def _failing(article: dict, bars: Bars, extra: str | None) -> list[dict]:
    failing = [{"id": a["id"], "detail": a.get("detail", "")} for a in article["assessments"] or [] if not a.get("passed")]
    body = len(article["content"] or "")
    if body < bars.min_body_chars:
        failing.append({"id": "body_length", "detail": f"body is {body} characters (needs {bars.min_body_chars})"})
    if extra:
        failing.append({"id": "performance", "detail": extra})
    return failing


def _prepare(conn, article_ids: list[UUID], reasons: dict[str, str]) -> tuple[list[_Job], list[RevisionOutcome]]:
    # "locked" is the rule of allixios.editorial.locks.is_locked (an unexpired lock), for all ids at once
    rows = fetch_dicts(
        conn,
        """SELECT a.*, n.name AS niche_name,
                  EXISTS (SELECT 1 FROM edit_locks l WHERE l.article_id = a.id AND l.expires_at > now()) AS locked
           FROM articles a LEFT JOIN niches n ON n.id = a.niche_id
           WHERE a.id = ANY(%s::uuid[]) ORDER BY a.id""",
        ([str(i) for i in article_ids],),
    )
    found = {str(r["id"]) for r in rows}
    skipped = [RevisionOutcome(str(i), "skipped", "article not found") for i in article_ids if str(i) not in found]
    jobs: list[_Job] = []
    for a in rows:
        if a["deleted_at"] is not None:
            skipped.append(RevisionOutcome(str(a["id"]), "skipped", "article is deleted"))
            continue
        if a["locked"]:
            skipped.append(RevisionOutcome(str(a["id"]), "skipped", "article has an active edit lock"))
            continue
        if a.get("locale"):  # the writer would redraft it in the source language; its source is refreshed instead
            skipped.append(RevisionOutcome(str(a["id"]), "skipped",
                                           f"a {a['locale']} translation: refresh its source, it is re-translated"))
            continue
        bars = Bars.of(tenant_by_id(conn, a["tenant_id"]))
        links = fetch_dicts(
            conn,
            """SELECT slug, title FROM articles WHERE niche_id = %s AND status = 'published' AND deleted_at IS NULL
                 AND locale IS NULL AND id <> %s ORDER BY published_at DESC, slug LIMIT 3""",
            (a["niche_id"], a["id"]),
        )
        brief = DraftBrief(
            a["title"], a["primary_keyphrase"] or "", tuple(a["tags"] or ()), a["niche_name"] or "", tuple(links),
            previous={"body": a["content"] or "", "title": a["title"]},
            failing_assessments=tuple(_failing(a, bars, reasons.get(str(a["id"])))), revision=a["version_number"],
        )
        messages, version = build_draft_messages(brief)
        jobs.append(_Job(a, brief, messages, version))
    return jobs, skipped


def _write(conn, job: _Job, draft: Draft, res, reason: str, actor: str, run_id: str | None,
           publish_passing: bool = False) -> RevisionOutcome:
    a = job.article
    tenant = tenant_by_id(conn, a["tenant_id"])
    bars = Bars.of(tenant)
    fields = draft.article_fields()
    fields["slug"] = a["slug"]  # published URLs never move
    report = score_article(ArticleDoc(fields["title"], fields["content"], fields["primary_keyphrase"] or "",
                                      fields["meta_title"], fields["meta_description"], fields["slug"],
                                      site_host=site_host(conn, tenant)))
    failed = bars.failures(report.body_chars, report.quality, report.seo)
    if reason == "refresh" and a["status"] == "published":
        live = (a["content_quality_score"] or 0) + (a["seo_score"] or 0)
        if failed or report.quality + report.seo < live:
            why = (f"kept live v{a['version_number']} (quality {a['content_quality_score']}, SEO {a['seo_score']}): "
                   f"refresh scored quality {report.quality}, SEO {report.seo}"
                   + (f", fails {', '.join(failed)}" if failed else ""))
            conn.execute(
                "UPDATE articles SET workflow_state = workflow_state || %s WHERE id = %s",
                (Jsonb({"refresh": {"outcome": "kept_live", "detail": why, "run_id": run_id}}), a["id"]),
            )
            conn.execute("UPDATE ai_usage SET article_id = %s WHERE request_id = %s AND article_id IS NULL",
                         (a["id"], job.request_id))
            return RevisionOutcome(str(a["id"]), "kept_live", why, None, report.quality, report.seo, not failed, False,
                                   0.0 if res.replayed else float(res.total_cost_usd))
    try:
        version = append_version(
            conn, a["id"], reason=reason, fields=fields, expected_version=a["version_number"], actor=actor,
            run_id=run_id, model=res.model, prompt_version=job.prompt_version, quality=report.quality, seo=report.seo,
            assessments=report.assessments_json(),
        )
    except ConflictError as exc:
        return RevisionOutcome(str(a["id"]), "conflict", exc.one_line())
    # a held article whose revision passes goes live at once when asked (publish_passing), so its
    # status follows the new version instead of waiting for its partition's day to be re-run
    republish = not failed and (a["status"] == "published" or (publish_passing and a["status"] == "needs_revision"))
    if republish:
        version = append_version(
            conn, a["id"], reason="published", fields={}, expected_version=version, actor=actor, run_id=run_id,
            model=res.model, prompt_version=job.prompt_version, quality=report.quality, seo=report.seo,
            assessments=report.assessments_json(),
        )
    status = "published" if republish else "needs_revision" if failed else "scored"
    # the stand-in marker follows the text: set by a stand-in's revision, dropped by a real model's
    marker = Jsonb(stand_in.marker(res.model, version)) if stand_in.is_stand_in_model(res.model) else None
    conn.execute(
        """UPDATE articles SET status = %s::content_status, optimization_suggestions = %s, ai_model_used = %s,
                  prompt_version = %s, generation_cost = generation_cost + %s,
                  published_at = CASE WHEN %s THEN now() ELSE published_at END,
                  published_version_number = CASE WHEN %s THEN %s ELSE published_version_number END,
                  workflow_state = workflow_state || %s,
                  metadata = CASE WHEN %s::jsonb IS NULL THEN metadata - 'stand_in'
                                  ELSE metadata || jsonb_build_object('stand_in', %s::jsonb) END
           WHERE id = %s""",
        (status, Jsonb(report.suggestions), res.model, job.prompt_version, 0.0 if res.replayed else float(res.cost_usd),
         republish, republish, version,
         Jsonb({"stage": f"{reason}", "failed_bars": failed, "failing_assessments": [x.id for x in report.failing()],
                "run_id": run_id}), marker, marker, a["id"]),
    )
    conn.execute("UPDATE ai_usage SET article_id = %s WHERE request_id = %s AND article_id IS NULL", (a["id"], job.request_id))
    return RevisionOutcome(str(a["id"]), "revised", "; ".join(failed), version, report.quality, report.seo,
                           not failed, republish, 0.0 if res.replayed else float(res.total_cost_usd))


def revise_articles(
    llm,
    article_ids: list[UUID | str],
    *,
    database_url: URL | None = None,
    reason: str = "regenerated",
    reasons: dict[str, str] | None = None,
    actor: str = "pipeline",
    run_id: str | None = None,
    concurrency: int = 8,
    publish_passing: bool = False,
) -> list[RevisionOutcome]:
    """Regenerate the articles (read, call the writer concurrently, write) and report each outcome.

    ``reasons`` maps an article id to why it is revised (e.g. a score drop); it is passed to the
    writer with the failing assessments. No transaction stays open while the model writes.
    ``publish_passing``: a ``needs_revision`` article whose revision passes the bars is published
    with it (a 'published' version on top), as a live article's passing revision is.
    """
    from allixios.ai.client import CompletionRequest

    if reason not in REVISION_REASONS:
        raise ValueError(f"revision reason must be one of {REVISION_REASONS}")
    with connect(database_url) as conn:
        jobs, outcomes = _prepare(conn, [UUID(str(i)) for i in article_ids], reasons or {})
    reqs = [
        CompletionRequest(
            task="writer", messages=j.messages, tenant_id=j.article["tenant_id"], request_id=j.request_id, run_id=run_id,
            article_id=j.article["id"], niche_id=j.article["niche_id"], expected_output_tokens=1500,
            validate=functools.partial(parse_draft, default_keyphrase=j.article["primary_keyphrase"] or ""),
        )
        for j in jobs
    ]
    results = llm.complete_many_sync(reqs, concurrency=concurrency) if reqs else []
    for job, res in zip(jobs, results, strict=True):
        if not res.ok:
            detail = f"{res.status}: {res.error_class or 'error'}: {res.error_message or ''}"[:500]
            outcomes.append(RevisionOutcome(str(job.article["id"]), "failed", detail,
                                            cost_usd=0.0 if res.replayed else float(res.total_cost_usd)))
            continue
        with connect(database_url) as conn:
            outcomes.append(_write(conn, job, res.parsed, res, reason, actor, run_id, publish_passing))
    return outcomes
