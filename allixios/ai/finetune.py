"""Model improvement: fine-tuning datasets exported from the articles that scored and earned best.

One chat-format JSONL line per article (``{"messages": [system, user, assistant]}``, the format of
OpenAI's and most providers' fine-tuning APIs), per niche: the prompt is the article's first-draft
prompt rebuilt with `allixios.content.drafting.build_draft_messages` from its topic (title,
keyphrase, keywords, niche), the answer is the exact text the model returned, from the ledger
(``ai_usage.response_text`` of the draft request ``draft:<topic id>``) — what the model should learn
to write. Articles are ranked by revenue to date (``marts.mart_ai_cost_roi`` when built), then by
quality score, and must reach ``min_quality``.

Never exported: articles written by an offline stand-in (model ``offline/…`` or a catalogue
deployment marked ``stand_in``) — stand-in output is not a result — deleted articles, and articles
whose answer is not in the ledger (human-written, or from before the ledger kept answers); each is
counted in the summary. The fine-tuned model then joins the catalogue by configuration (a
deployment with its ``model:`` string and ``fine_tuned_from:``), and learned routing tries it against
its base model on real outcomes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import psycopg

from allixios.ai.catalogue import Catalogue
from allixios.db.engine import fetch_dicts


@dataclass
class ExportSummary:
    path: str
    exported: int = 0
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> articles
    prompt_versions: dict[str, int] = field(default_factory=dict)


def export_dataset(conn: psycopg.Connection, catalogue: Catalogue, tenant_id: UUID, niche_id: UUID, niche_name: str,
                   out: str | Path, *, top: int = 100, min_quality: float = 80.0) -> ExportSummary:
    from allixios.content.drafting import DraftBrief, build_draft_messages

    stand_ins = {d.id for d in catalogue.all_deployments() if d.stand_in} | {
        d.model for d in catalogue.all_deployments() if d.stand_in}
    has_mart = conn.execute("SELECT to_regclass('marts.mart_ai_cost_roi') IS NOT NULL").fetchone()[0]
    revenue = ("(SELECT m.revenue_to_date_usd FROM marts.mart_ai_cost_roi m WHERE m.article_id = a.id "
               "AND m.cost_line = 'article')" if has_mart else "NULL::numeric")
    rows = fetch_dicts(conn, f"""
        SELECT a.id, a.ai_model_used, a.prompt_version, a.content_quality_score, {revenue} AS revenue_usd,
               t.title, coalesce(t.target_keyphrase, '') AS keyphrase, t.keywords,
               (SELECT u.response_text FROM ai_usage u WHERE u.request_id = 'draft:' || a.topic_id::text
                  AND u.status = 'success' AND u.response_text IS NOT NULL ORDER BY u.attempt DESC LIMIT 1) AS answer
        FROM articles a LEFT JOIN topics t ON t.id = a.topic_id
        WHERE a.tenant_id = %s AND a.niche_id = %s AND a.deleted_at IS NULL AND a.ai_generated
        ORDER BY {revenue} DESC NULLS LAST, a.content_quality_score DESC NULLS LAST, a.id""", (tenant_id, niche_id))
    summary = ExportSummary(str(out))

    def skip(reason: str) -> None:
        summary.excluded[reason] = summary.excluded.get(reason, 0) + 1

    lines = []
    for r in rows:
        model = r["ai_model_used"] or ""
        if model in stand_ins or model.startswith("offline/"):
            skip("written by an offline stand-in")
        elif (r["content_quality_score"] or 0) < min_quality:
            skip(f"quality below {min_quality:g}")
        elif not r["answer"] or r["title"] is None:
            skip("no recorded answer or topic")
        elif len(lines) >= top:
            skip(f"beyond the top {top}")
        else:
            messages, _ = build_draft_messages(DraftBrief(r["title"], r["keyphrase"], tuple(r["keywords"] or ()),
                                                          niche_name))
            lines.append(json.dumps({"messages": [*messages, {"role": "assistant", "content": r["answer"]}]},
                                    ensure_ascii=False))
            version = r["prompt_version"] or "unknown"
            summary.prompt_versions[version] = summary.prompt_versions.get(version, 0) + 1
    Path(out).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    summary.exported = len(lines)
    return summary
