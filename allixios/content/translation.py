"""The `translated_articles` step: every published article of a niche in each of its target locales.

For each live source article (``articles.locale`` NULL) and target locale of its niche there is one
``article_translations`` row. A row that is pending, stale (the source's live version changed: a
trigger marks it, whichever path published the source) or rejected with rounds left is translated
through the ``writer`` alias with prompt ``translate_v1`` (the tenant's glossary and the per-locale
keyphrase in the prompt). The client's validator rejects an answer that is malformed, in the wrong
language (``locales.language``) or that ignores the glossary: the client retries it (bounded by the
catalogue's attempts), every attempt is an ``ai_usage`` row, and a round whose attempts all fail
counts against ``MAX_ROUNDS``; after that the row stays ``rejected`` with its reasons until the
source changes. Nothing rejected is ever published.

A passing translation is an ordinary article row (``locale`` set, ``partition_date`` NULL so the
day's pipeline steps never pick it up) written through the one version writer
(``content.versions``): version 1 'generated' (or 'regenerated' for a re-translation), then a
'published' version; both are linked to the source version in ``translation_versions``. Request
ids are ``translate:<source>:<locale>:<source hash>:<glossary digest>:r<round>``, so a re-run or a
crash after the call replays the answer from the ledger instead of paying again, while a changed
source or glossary (the entries the source uses) is a new request: the translation is re-made.

Translations are gated by the language check, the glossary and the body-length bar; their
per-locale quality and SEO scores (``locales.scoring``) are stored and shown, not gated: the source
passed the tenant's bars, and those bars are calibrated on English scales.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from allixios.content.drafting import load_prompt, parse_draft
from allixios.content.locales import locale_info
from allixios.content.locales.config import glossary_for, tenant_locales
from allixios.content.locales.language import check_language
from allixios.content.locales.scoring import score_localized
from allixios.content.offline_writer import MODEL_NAME as OFFLINE_WRITER
from allixios.content.partition import PartitionRef
from allixios.content.scoring import ArticleDoc
from allixios.content.slugs import slugify, unique_slug
from allixios.content.versions import append_version, record_first_version
from allixios.db.engine import fetch_dicts

TRANSLATE_PROMPT = "translate_v1"
MAX_ROUNDS = 2  # translation rounds (each = the client's bounded attempts) per source version and locale
STAND_IN_LABEL = "stand-in translator"
ACTOR = "translator"


@dataclass
class TranslationJob:
    row_id: UUID
    tenant_id: UUID
    niche_id: UUID
    source_id: UUID
    source_version_id: UUID
    source_version: int
    source_hash: str
    locale: str
    source: dict  # title, content, slug, meta_title, meta_description, excerpt, tags, primary_keyphrase
    article_id: UUID | None  # the existing translation (re-translation) or None
    status: str
    round: int
    glossary: list[tuple[str, str]]
    keyphrase: str | None  # the locale's keyphrase from the glossary, else the model chooses
    author_id: UUID | None = None
    featured_media_id: UUID | None = None

    @property
    def relevant_glossary(self) -> list[tuple[str, str]]:
        """The glossary entries whose term the source uses (what the prompt carries and the check enforces)."""
        text = _source_text(self).lower()
        return [(t, tr) for t, tr in self.glossary if t.lower() in text]

    @property
    def glossary_digest(self) -> str:
        return glossary_digest(self.relevant_glossary)

    @property
    def request_id(self) -> str:
        # source version, glossary and round: a change to any of them is a new request; a re-run is a replay
        return (f"translate:{self.source_id}:{self.locale}:{self.source_hash[:16]}:{self.glossary_digest}"
                f":r{self.round}")


def glossary_digest(entries: list[tuple[str, str]]) -> str:
    canonical = json.dumps(sorted((t.lower(), tr) for t, tr in entries), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


@dataclass
class TranslationPlan:
    jobs: list[TranslationJob] = field(default_factory=list)
    current: int = 0  # translations already of the source's live version
    rejected: list[dict] = field(default_factory=list)  # no rounds left: {slug, locale, reason}
    withdrawn: list[dict] = field(default_factory=list)  # source no longer live: translation taken down
    targets: list[str] = field(default_factory=list)
    source_locale: str = "en"  # the tenant's default locale: the language of source articles


@dataclass
class TranslateResult:
    translated: list[dict] = field(default_factory=list)  # {slug, locale, source_slug, version, ...}
    rejected: list[dict] = field(default_factory=list)  # {source_slug, locale, round, reason, final}
    skipped_budget: list[dict] = field(default_factory=list)
    cost_usd: float = 0.0
    stand_in: int = 0


# --------------------------------------------------------------------------- planning


def plan_translations(conn: psycopg.Connection, part: PartitionRef) -> TranslationPlan:
    """Rows for every live source x target locale of the niche; what needs (re-)translating."""
    plan = TranslationPlan()
    have = tenant_locales(conn, part.tenant.id)
    row = conn.execute("SELECT locales FROM niches WHERE id = %s", (part.niche.id,)).fetchone()
    plan.source_locale = have.default
    plan.targets = [c for c in (row[0] if row else []) if c != have.default and c in have.locales]
    # a source that is no longer live takes its translations down with it (the site answers 410)
    for w in fetch_dicts(conn, """
            UPDATE article_translations t SET status = 'withdrawn', updated_at = now()
              FROM articles s WHERE s.id = t.source_article_id AND t.tenant_id = %s AND s.niche_id = %s
               AND t.status <> 'withdrawn' AND (s.status <> 'published' OR s.deleted_at IS NOT NULL)
            RETURNING t.article_id, t.locale, s.slug AS source_slug""", (part.tenant.id, part.niche.id)):
        if w["article_id"] is not None:
            conn.execute("""UPDATE articles SET status = 'archived', updated_at = now(), updated_by = %s,
                                   workflow_state = workflow_state || %s WHERE id = %s AND status = 'published'""",
                         (ACTOR, Jsonb({"stage": "withdrawn_with_source"}), w["article_id"]))
        plan.withdrawn.append({"source_slug": w["source_slug"], "locale": w["locale"]})
    from allixios import plans

    if plans.flag(conn, part.tenant.id, "translation") is False:  # switched off by the tenant's plan or flag
        plan.targets = []
    if not plan.targets:
        return plan
    conn.execute(
        """INSERT INTO article_translations (tenant_id, source_article_id, locale)
           SELECT a.tenant_id, a.id, l FROM articles a CROSS JOIN unnest(%s::text[]) l
           WHERE a.tenant_id = %s AND a.niche_id = %s AND a.locale IS NULL AND a.status = 'published'
             AND a.deleted_at IS NULL
           ON CONFLICT (source_article_id, locale) DO NOTHING""",
        (plan.targets, part.tenant.id, part.niche.id),
    )
    rows = fetch_dicts(conn, """
        SELECT t.id AS row_id, t.locale, t.status, t.rounds, t.article_id, t.source_content_hash, t.last_error,
               t.glossary_digest,
               s.id AS source_id, s.slug AS source_slug, s.author_id, s.featured_media_id,
               v.id AS version_id, v.version_number, v.content_hash, v.title, v.content, v.slug, v.meta_title,
               v.meta_description, v.excerpt, v.tags, v.primary_keyphrase
          FROM article_translations t
          JOIN articles s ON s.id = t.source_article_id
          JOIN article_versions v ON v.article_id = s.id AND v.version_number = s.published_version_number
         WHERE t.tenant_id = %s AND s.niche_id = %s AND s.status = 'published' AND s.deleted_at IS NULL
           AND t.locale = ANY(%s)
         ORDER BY s.slug, t.locale
         FOR UPDATE OF t""", (part.tenant.id, part.niche.id, plan.targets))
    glossaries: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        glossary = glossaries.setdefault(r["locale"], glossary_for(conn, part.tenant.id, r["locale"]))
        kp = (r["primary_keyphrase"] or "").strip().lower()
        keyphrase = next((tr for term, tr in glossary if term.lower() == kp), None) if kp else None
        source = {k: r[k] for k in ("title", "content", "slug", "meta_title", "meta_description", "excerpt", "tags",
                                    "primary_keyphrase")}
        job = TranslationJob(
            r["row_id"], part.tenant.id, part.niche.id, r["source_id"], r["version_id"], r["version_number"],
            r["content_hash"], r["locale"], source, r["article_id"], r["status"], r["rounds"], glossary, keyphrase,
            r["author_id"], r["featured_media_id"],
        )
        if r["status"] == "current":
            if r["source_content_hash"] == r["content_hash"] and r["glossary_digest"] == job.glossary_digest:
                plan.current += 1
                continue
            # the glossary changed (or, belt and braces, the source did and the trigger missed it)
            conn.execute("""UPDATE article_translations SET status = 'stale', stale_since = now(), rounds = 0,
                                   updated_at = now() WHERE id = %s""", (r["row_id"],))
            job.status, job.round = "stale", 0
        if r["status"] == "rejected" and r["rounds"] >= MAX_ROUNDS:
            plan.rejected.append({"source_slug": r["source_slug"], "locale": r["locale"], "reason": r["last_error"]})
            continue
        plan.jobs.append(job)
    return plan


# --------------------------------------------------------------------------- the model call


def build_messages(job: TranslationJob, niche_name: str, source_language: str = "en") -> tuple[list[dict], str]:
    info, src = locale_info(job.locale), locale_info(source_language)
    relevant = job.relevant_glossary
    brief = {"task": "translate", "locale": job.locale, "language": info.name,
             "source": {**job.source, "body": job.source.get("content") or "", "tags": list(job.source.get("tags") or [])},
             "glossary": relevant, "keyphrase": job.keyphrase, "source_version": job.source_version}
    s = job.source
    values = {
        "niche": niche_name or "a general audience", "language": info.name, "source_language": src.name,
        "glossary": "\n".join(f"  - {t} -> {tr}" for t, tr in relevant) or "  - (no glossary terms in this article)",
        "keyphrase": job.keyphrase or f"the natural {info.name} rendering of \"{s.get('primary_keyphrase') or ''}\"",
        "title": s.get("title") or "", "meta_title": s.get("meta_title") or "",
        "meta_description": s.get("meta_description") or "", "excerpt": s.get("excerpt") or "",
        "tags": ", ".join(s.get("tags") or []), "body": s.get("content") or "",
        "brief_json": json.dumps(brief, ensure_ascii=False),
    }
    return load_prompt(TRANSLATE_PROMPT).render(**values), TRANSLATE_PROMPT


def _source_text(job: TranslationJob) -> str:
    s = job.source
    return " ".join(str(s.get(k) or "") for k in ("title", "content", "meta_title", "meta_description", "excerpt"))


@dataclass(frozen=True)
class CheckedTranslation:
    fields: dict  # article columns
    language: dict  # LanguageCheck.as_dict()
    stand_in: bool


def validator(job: TranslationJob):
    """The client's validator: ValueError (retried, recorded) for malformed output, the wrong language or
    a glossary term not rendered as the glossary says."""
    def validate(text: str) -> CheckedTranslation:
        draft = parse_draft(text, default_keyphrase=job.keyphrase or "")
        try:
            stand_in = bool(json.loads(text.strip().removeprefix("```json").removesuffix("```")).get("stand_in"))
        except (ValueError, AttributeError):
            stand_in = False
        check = check_language(draft.title, draft.body, job.locale)
        if not check.ok:
            raise ValueError(f"wrong language: {check.reason}")
        out_low = f"{draft.title} {draft.body} {draft.meta_description}".lower()
        missing = [(t, tr) for t, tr in job.relevant_glossary if tr.lower() not in out_low]
        if missing:
            t, tr = missing[0]
            raise ValueError(f"glossary not followed: {t!r} must be translated as {tr!r} in {job.locale}")
        fields = draft.article_fields()
        if job.keyphrase:
            fields["primary_keyphrase"] = job.keyphrase.lower()
        return CheckedTranslation(fields, check.as_dict(), stand_in)

    return validate


def request_translations(llm, part: PartitionRef, jobs: list[TranslationJob], *, run_id: str | None,
                         source_locale: str = "en", concurrency: int = 4) -> list:
    from allixios.ai.client import CompletionRequest

    reqs = []
    for job in jobs:
        messages, _ = build_messages(job, part.niche.name, source_locale)
        body_tokens = max(800, len(job.source.get("content") or "") // 3)
        reqs.append(CompletionRequest(
            task="writer", messages=messages, tenant_id=part.tenant.id, request_id=job.request_id, run_id=run_id,
            article_id=job.source_id, niche_id=part.niche.id, expected_output_tokens=body_tokens,
            validate=validator(job),
        ))
    return llm.complete_many_sync(reqs, concurrency=concurrency) if reqs else []


# --------------------------------------------------------------------------- storing


def translator_name(model: str, stand_in: bool) -> str:
    return f"{model} ({STAND_IN_LABEL})" if stand_in or model == OFFLINE_WRITER else model


def _link(conn, version_number: int, job: TranslationJob, article_id: UUID, translator: str, stand_in: bool,
          language: dict) -> None:
    conn.execute(
        """INSERT INTO translation_versions (translation_version_id, tenant_id, article_id, source_article_id,
                  source_version_id, locale, translator, stand_in, language_check)
           SELECT v.id, %s, %s, %s, %s, %s, %s, %s, %s FROM article_versions v
            WHERE v.article_id = %s AND v.version_number = %s
           ON CONFLICT (translation_version_id) DO NOTHING""",
        (job.tenant_id, article_id, job.source_id, job.source_version_id, job.locale, translator, stand_in,
         Jsonb(language), article_id, version_number),
    )


def _slug_for(conn, job: TranslationJob, wanted: str) -> str:
    if job.article_id is not None:  # a re-translation keeps its URL
        return conn.execute("SELECT slug FROM articles WHERE id = %s", (job.article_id,)).fetchone()[0]
    base = slugify(wanted or job.source.get("slug") or "article")
    taken = conn.execute("SELECT 1 FROM articles WHERE tenant_id = %s AND slug = %s", (job.tenant_id, base)).fetchone()
    return unique_slug(conn, job.tenant_id, f"{base}-{job.locale}" if taken else base)


def _store_one(conn, part: PartitionRef, job: TranslationJob, res, checked: CheckedTranslation, run_id) -> dict | None:
    # a concurrent run of the same partition may have stored this answer (it replayed the same request)
    article_id, status, stored_hash, stored_glossary = conn.execute(
        """SELECT article_id, status, source_content_hash, glossary_digest FROM article_translations
           WHERE id = %s FOR UPDATE""", (job.row_id,)).fetchone()
    if status == "current" and stored_hash == job.source_hash and stored_glossary == job.glossary_digest:
        return None
    job.article_id = article_id
    fields = dict(checked.fields)
    fields["slug"] = _slug_for(conn, job, fields.get("slug") or "")
    stand_in = checked.stand_in or res.model == OFFLINE_WRITER
    translator = translator_name(res.model, stand_in)
    report = score_localized(ArticleDoc(fields["title"], fields["content"] or "", fields.get("primary_keyphrase") or "",
                                        fields.get("meta_title") or "", fields.get("meta_description") or "",
                                        fields["slug"]), job.locale)
    bars = part.bars
    if len(fields["content"] or "") < bars.min_body_chars:
        raise ValueError(f"body is {len(fields['content'] or '')} characters (needs at least {bars.min_body_chars})")
    state = {"stage": "translated", "translator": translator, "stand_in": stand_in, "locale": job.locale,
             "source_article_id": str(job.source_id), "source_version": job.source_version,
             "language_check": checked.language, "readability": report.readability,
             "not_available": report.not_available, "run_id": run_id}
    if job.article_id is None:
        article_id = conn.execute(
            """INSERT INTO articles (tenant_id, title, content, slug, niche_id, author_id, meta_title, meta_description,
                      excerpt, tags, primary_keyphrase, status, ai_generated, ai_model_used, prompt_version,
                      generation_cost, locale, featured_media_id, workflow_state, created_by, updated_by)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'draft', true, %s, %s, %s, %s, %s, %s, %s, %s)
               RETURNING id""",
            (job.tenant_id, fields["title"], fields["content"], fields["slug"], job.niche_id, job.author_id,
             fields.get("meta_title"), fields.get("meta_description"), fields.get("excerpt"), fields.get("tags") or [],
             fields.get("primary_keyphrase"), res.model, TRANSLATE_PROMPT, res.total_cost_usd, job.locale,
             job.featured_media_id, Jsonb(state), ACTOR, ACTOR),
        ).fetchone()[0]
        record_first_version(conn, article_id, actor=ACTOR, run_id=run_id, model=res.model, prompt_version=TRANSLATE_PROMPT)
        # the source's category too (allixios/catalog.py): the translation sits in the same section
        conn.execute("UPDATE articles SET category_id = (SELECT category_id FROM articles WHERE id = %s) WHERE id = %s",
                     (job.source_id, article_id))
        written = 1
    else:
        article_id = job.article_id
        current = conn.execute("SELECT version_number FROM articles WHERE id = %s FOR UPDATE", (article_id,)).fetchone()[0]
        written = append_version(conn, article_id, reason="regenerated", fields=fields, expected_version=current,
                                 actor=ACTOR, run_id=run_id, model=res.model, prompt_version=TRANSLATE_PROMPT)
        conn.execute("""UPDATE articles SET ai_model_used = %s, prompt_version = %s,
                               generation_cost = generation_cost + %s, workflow_state = workflow_state || %s
                        WHERE id = %s""", (res.model, TRANSLATE_PROMPT, res.total_cost_usd, Jsonb(state), article_id))
    _link(conn, written, job, article_id, translator, stand_in, checked.language)
    live = append_version(conn, article_id, reason="published", fields={}, expected_version=written, actor=ACTOR,
                          run_id=run_id, model=res.model, prompt_version=TRANSLATE_PROMPT, quality=report.quality,
                          seo=report.seo, assessments=report.assessments_json())
    _link(conn, live, job, article_id, translator, stand_in, checked.language)
    conn.execute("""UPDATE articles SET status = 'published', published_at = coalesce(published_at, now()),
                           published_version_number = %s, optimization_suggestions = %s WHERE id = %s""",
                 (live, Jsonb(report.suggestions), article_id))
    conn.execute("""UPDATE article_translations SET status = 'current', article_id = %s, source_version_id = %s,
                           source_content_hash = %s, glossary_digest = %s, rounds = 0, last_error = NULL,
                           stale_since = NULL, translated_at = now(), updated_at = now() WHERE id = %s""",
                 (article_id, job.source_version_id, job.source_hash, job.glossary_digest, job.row_id))
    return {"slug": fields["slug"], "locale": job.locale, "source_slug": job.source.get("slug"), "version": live,
            "source_version": job.source_version, "quality": report.quality, "seo": report.seo,
            "translator": translator, "stand_in": stand_in, "retranslation": job.article_id is not None,
            "language_confidence": checked.language.get("confidence"), "cost_usd": res.total_cost_usd,
            "article_id": str(article_id)}


def _reject(conn, job: TranslationJob, reason: str, model: str | None, attempts: int) -> dict:
    rounds = job.round + 1
    final = rounds >= MAX_ROUNDS
    entry = {"round": job.round, "source_version": job.source_version, "model": model, "attempts": attempts,
             "reason": reason}
    conn.execute(
        """UPDATE article_translations SET rounds = %s, last_error = %s, updated_at = now(),
                  status = CASE WHEN %s THEN 'rejected' ELSE status END,
                  rejections = rejections || jsonb_build_array(%s::jsonb || jsonb_build_object('at', now()))
           WHERE id = %s""",
        (rounds, reason, final, Jsonb(entry), job.row_id),
    )
    return {"source_slug": job.source.get("slug"), "locale": job.locale, "round": job.round, "reason": reason,
            "final": final}


def store_translations(conn: psycopg.Connection, part: PartitionRef, jobs: list[TranslationJob], results: list,
                       *, run_id: str | None) -> TranslateResult:
    from allixios.ai.client import SKIPPED_BUDGET

    out = TranslateResult()
    for job, res in zip(jobs, results, strict=True):
        out.cost_usd += float(res.total_cost_usd or 0)
        if res.status == SKIPPED_BUDGET:
            out.skipped_budget.append({"source_slug": job.source.get("slug"), "locale": job.locale,
                                       "reason": res.error_message})
            continue
        if not res.ok:
            out.rejected.append(_reject(conn, job, res.error_message or res.status, res.model, res.attempts))
            continue
        try:
            with conn.transaction():
                stored = _store_one(conn, part, job, res, res.parsed, run_id)
        except ValueError as exc:  # e.g. the body-length bar: rejected with the reason, not published
            out.rejected.append(_reject(conn, job, str(exc), res.model, res.attempts))
            continue
        if stored is None:
            continue  # already stored by a concurrent run
        out.translated.append(stored)
        out.stand_in += stored["stand_in"]
    return out


def translate_partition(conn_factory, part: PartitionRef, llm, *, run_id: str | None = None,
                        concurrency: int = 4) -> tuple[TranslationPlan, TranslateResult]:
    """Plan, call the writer with no connection held, store. ``conn_factory()`` opens a connection."""
    with conn_factory() as conn:
        plan = plan_translations(conn, part)
    results = request_translations(llm, part, plan.jobs, run_id=run_id, source_locale=plan.source_locale,
                                   concurrency=concurrency)
    with conn_factory() as conn:
        result = store_translations(conn, part, plan.jobs, results, run_id=run_id)
    return plan, result


def retry_rejected(conn: psycopg.Connection, tenant_id: UUID, source_slug: str | None = None,
                   locale: str | None = None) -> int:
    """Give rejected translations fresh rounds (after fixing what made them fail, e.g. the glossary)."""
    return conn.execute(
        """UPDATE article_translations t SET status = CASE WHEN t.article_id IS NULL THEN 'pending' ELSE 'stale' END,
                  rounds = 0, updated_at = now()
             FROM articles s WHERE s.id = t.source_article_id AND t.tenant_id = %s AND t.status = 'rejected'
              AND (%s::text IS NULL OR s.slug = %s) AND (%s::text IS NULL OR t.locale = %s)""",
        (tenant_id, source_slug, source_slug, locale, locale)).rowcount


def translation_status(conn: psycopg.Connection, tenant_id: UUID, niche_id: UUID | None = None) -> list[dict[str, Any]]:
    return fetch_dicts(conn, """
        SELECT s.slug AS source_slug, t.locale, t.status, a.slug, a.published_version_number AS live_version,
               sv.version_number AS of_source_version, t.rounds, t.last_error, t.translated_at, t.stale_since
          FROM article_translations t JOIN articles s ON s.id = t.source_article_id
          LEFT JOIN articles a ON a.id = t.article_id
          LEFT JOIN article_versions sv ON sv.id = t.source_version_id
         WHERE t.tenant_id = %s AND (%s::uuid IS NULL OR s.niche_id = %s)
         ORDER BY s.slug, t.locale""", (tenant_id, niche_id, niche_id))
