"""The `judge` alias: an optional LLM-judged assessment (the seed's ``validateContentQuality``).

A judge model rates an article's helpfulness, accuracy and originality 0-100 against the rubric
prompt ``prompts/judge_v1.txt`` and gives a reason for each. It runs only when a judge is
configured — a deployment of the ``judge`` alias in config/models.yaml that is not an offline
stand-in and has its key — and then every call goes through the LLM client like any paid call
(model selection, budget reservation, ``ai_usage`` ledger, retries, failover). With no judge
configured nothing is called and the article's score details say ``judge: not configured``.

The verdict is stored with the article (``articles.metadata.judge``: status, model, content hash,
scores, reasons, summary, overall) and shown in its score details (API ``judge`` field, the
``scored_articles`` asset's table). It is advisory: the publish bars stay quality, SEO and body
length; a judged criterion under ``PASS_SCORE`` adds an optimization suggestion instead.
The request id is ``judge:<article>:<content hash>``, so re-judging unchanged text is answered from
the ledger, and a changed text is judged again.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from allixios.content.drafting import load_prompt
from allixios.content.partition import PartitionRef
from allixios.db.engine import fetch_dicts

JUDGE_PROMPT = "judge_v1"
CRITERIA = ("helpfulness", "accuracy", "originality")
PASS_SCORE = 60  # a criterion under this becomes an optimization suggestion
MAX_BODY_CHARS = 24_000  # what the judge reads of a long article (bounds the paid call)
MAX_REASON_CHARS = 600
NOT_CONFIGURED = "judge: not configured"
# what the judge step looks at: articles scored in the partition and not yet live
JUDGED_STATUSES = ("scored", "needs_revision")


@dataclass(frozen=True)
class Verdict:
    scores: dict[str, int]
    reasons: dict[str, str]
    summary: str

    @property
    def overall(self) -> int:
        return round(sum(self.scores.values()) / len(self.scores))

    def failing(self) -> list[str]:
        return [c for c in CRITERIA if self.scores[c] < PASS_SCORE]


def parse_verdict(text: str) -> Verdict:
    """The judge's JSON answer, validated; ValueError (retried by the client, then reported) when malformed."""
    from allixios.content.drafting import _json_object

    value = _json_object(text)
    scores, reasons = {}, {}
    for c in CRITERIA:
        item = value.get(c)
        if not isinstance(item, dict):
            raise ValueError(f"the judge's answer has no {c} object")
        score = item.get("score")
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 100:
            raise ValueError(f"the judge's {c} score is {score!r}, not a number 0-100")
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"the judge gave no reason for {c}")
        scores[c] = round(float(score))
        reasons[c] = " ".join(reason.split())[:MAX_REASON_CHARS]
    summary = value.get("summary")
    return Verdict(scores, reasons, " ".join(str(summary or "").split())[:MAX_REASON_CHARS])


def judge_deployment(catalogue):
    """The judge that would be called (the first real, usable deployment of ``judge``), or None."""
    if "judge" not in catalogue.aliases:
        return None
    real = [d for d in catalogue.usable("judge") if not d.stand_in]
    return real[0] if real else None


def not_configured() -> dict:
    return {"status": "not configured", "detail": f"{NOT_CONFIGURED} (add a real deployment with its key to the "
                                                  "judge alias in config/models.yaml to have articles judged)"}


def build_judge_messages(title: str, keyphrase: str, body: str, niche: str) -> list[dict]:
    return load_prompt(JUDGE_PROMPT).render(niche=niche or "a general audience", title=title,
                                            keyphrase=keyphrase or "(none)", body=(body or "")[:MAX_BODY_CHARS])


def pending(conn: psycopg.Connection, part: PartitionRef) -> list[dict]:
    """The partition's scored articles whose current text has no verdict yet."""
    return fetch_dicts(
        conn,
        """SELECT a.id, a.tenant_id, a.niche_id, a.slug, a.title, a.content, a.primary_keyphrase, a.content_hash,
                  n.name AS niche_name
           FROM articles a LEFT JOIN niches n ON n.id = a.niche_id
           WHERE a.niche_id = %s AND a.partition_date = %s AND a.deleted_at IS NULL
             AND a.status = ANY(%s::content_status[])
             AND (a.metadata -> 'judge' ->> 'content_hash' IS DISTINCT FROM a.content_hash
                  OR a.metadata -> 'judge' ->> 'status' NOT IN ('judged', 'not configured'))
           ORDER BY a.slug""",
        (part.niche.id, part.day, list(JUDGED_STATUSES)),
    )


def request_id(row: dict) -> str:
    return f"judge:{row['id']}:{(row['content_hash'] or '')[:16]}"


def judge_rows(llm, rows: list[dict], *, run_id: str | None = None, concurrency: int = 4) -> list[dict]:
    """One verdict (or the reason there is none) per row; calls the judge only when one is configured."""
    from allixios.ai.client import CompletionRequest

    deployment = judge_deployment(llm.catalogue)
    if deployment is None:
        return [dict(not_configured(), content_hash=r["content_hash"]) for r in rows]
    reqs = [
        CompletionRequest(
            task="judge", messages=build_judge_messages(r["title"], r["primary_keyphrase"] or "", r["content"] or "",
                                                        r["niche_name"] or ""),
            tenant_id=r["tenant_id"], request_id=request_id(r), run_id=run_id, article_id=r["id"],
            niche_id=r["niche_id"], expected_output_tokens=400, validate=parse_verdict,
        )
        for r in rows
    ]
    results = llm.complete_many_sync(reqs, concurrency=concurrency) if reqs else []
    out = []
    for r, res in zip(rows, results, strict=True):
        if not res.ok:
            out.append({"status": "failed", "content_hash": r["content_hash"], "model": res.model,
                        "detail": f"{res.status}: {res.error_class or 'error'}: {res.error_message or ''}"[:500]})
            continue
        v: Verdict = res.parsed
        out.append({"status": "judged", "content_hash": r["content_hash"], "model": res.model,
                    "deployment": res.deployment_id, "prompt_version": JUDGE_PROMPT, "scores": v.scores,
                    "reasons": v.reasons, "summary": v.summary, "overall": v.overall, "failing": v.failing(),
                    "cost_usd": 0.0 if res.replayed else float(res.total_cost_usd)})
    return out


def suggestions(verdict: dict) -> list[dict]:
    """Optimization suggestions for the judged criteria under PASS_SCORE (same shape as the scorer's)."""
    return [{"type": f"judge_{c}", "priority": "high" if verdict["scores"][c] < 40 else "medium",
             "suggestion": verdict["reasons"][c], "estimated_impact": "judged by an LLM against the rubric",
             "source": "judge"}
            for c in verdict.get("failing", [])]


def store(conn: psycopg.Connection, rows: list[dict], verdicts: list[dict]) -> None:
    """Record each verdict on its article (only if the text is still the one judged)."""
    for r, v in zip(rows, verdicts, strict=True):
        extra = suggestions(v) if v["status"] == "judged" else []
        conn.execute(
            """UPDATE articles SET metadata = metadata || jsonb_build_object('judge', %s::jsonb),
                      optimization_suggestions = (
                          SELECT coalesce(jsonb_agg(s), '[]'::jsonb) FROM jsonb_array_elements(optimization_suggestions) s
                          WHERE s ->> 'source' IS DISTINCT FROM 'judge') || %s::jsonb
               WHERE id = %s AND content_hash IS NOT DISTINCT FROM %s""",
            (Jsonb(v), Jsonb(extra), r["id"], r["content_hash"]),
        )


def judge_partition(conn: psycopg.Connection, part: PartitionRef, llm, *, run_id: str | None = None) -> list[dict]:
    """Judge the partition's scored articles (no transaction stays open while the judge answers)."""
    rows = pending(conn, part)
    conn.commit()
    verdicts = judge_rows(llm, rows, run_id=run_id)
    store(conn, rows, verdicts)
    return [dict(v, slug=r["slug"]) for r, v in zip(rows, verdicts, strict=True)]


def summary_line(verdict: dict | None) -> str:
    """One line for score details: 'judge: 74 (helpfulness 80, accuracy 85, originality 58)' or why not."""
    if not verdict or verdict.get("status") == "not configured":
        return NOT_CONFIGURED
    if verdict.get("status") != "judged":
        return f"judge: {verdict.get('status')} ({verdict.get('detail', '')})"
    return f"judge: {verdict['overall']} (" + ", ".join(f"{c} {verdict['scores'][c]}" for c in CRITERIA) + ")"



def stored(conn: psycopg.Connection, article_ids: list[str]) -> dict[str, dict]:
    """The recorded verdicts of these articles (id -> verdict; missing: never judged)."""
    rows = conn.execute("SELECT id::text, metadata -> 'judge' FROM articles WHERE id = ANY(%s::uuid[])",
                        (list(article_ids),)).fetchall()
    return {r[0]: r[1] for r in rows if r[1] is not None}
