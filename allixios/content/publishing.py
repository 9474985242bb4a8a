"""The `published_articles` step: articles that pass every bar go live with a new version.

Only ``scored`` articles that still meet the tenant's current bars are published (status published,
``published_at``, ``published_version_number`` and an ``article_versions`` row with reason
'published'). A scored article that no longer meets the bars (they were raised since scoring)
is moved to needs_revision with the reason: nothing is ever published silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb

from allixios.content.partition import PartitionRef
from allixios.content.versions import append_version
from allixios.db.engine import fetch_dicts


@dataclass
class PublishResult:
    published: list[dict] = field(default_factory=list)  # {id, slug, version, quality, seo}
    needs_revision: list[dict] = field(default_factory=list)  # {id, slug, reasons}
    already_published: int = 0


def publish_partition(conn: psycopg.Connection, part: PartitionRef, *, run_id: str | None = None,
                      actor: str = "pipeline") -> PublishResult:
    result = PublishResult()
    bars = part.bars
    candidates = fetch_dicts(
        conn,
        """SELECT id, slug, version_number, content_quality_score AS quality, seo_score AS seo,
                  length(coalesce(content, '')) AS body_chars, ai_model_used, prompt_version, assessments
           FROM articles
           WHERE niche_id = %s AND partition_date = %s AND deleted_at IS NULL AND status = 'scored'
           ORDER BY slug
           FOR UPDATE""",
        (part.niche.id, part.day),
    )
    for a in candidates:
        failed = bars.failures(a["body_chars"], a["quality"], a["seo"])
        if failed:
            conn.execute(
                """UPDATE articles SET status = 'needs_revision', updated_at = now(),
                          workflow_state = workflow_state || %s WHERE id = %s""",
                (Jsonb({"stage": "publish_refused", "failed_bars": failed, "bars": bars.as_dict()}), a["id"]),
            )
            continue
        version = append_version(
            conn, a["id"], reason="published", fields={}, expected_version=a["version_number"], actor=actor,
            run_id=run_id, model=a["ai_model_used"], prompt_version=a["prompt_version"], quality=a["quality"],
            seo=a["seo"], assessments=a["assessments"],
        )
        conn.execute(
            """UPDATE articles SET status = 'published', published_at = now(), published_version_number = %s,
                      workflow_state = workflow_state || %s WHERE id = %s""",
            (version, Jsonb({"stage": "published", "run_id": run_id}), a["id"]),
        )
        result.published.append({"id": str(a["id"]), "slug": a["slug"], "version": version, "quality": a["quality"],
                                 "seo": a["seo"]})
    waiting = fetch_dicts(
        conn,
        """SELECT id::text AS id, slug, content_quality_score AS quality, seo_score AS seo,
                  coalesce(workflow_state -> 'failed_bars', '[]'::jsonb) AS reasons,
                  coalesce(workflow_state -> 'failing_assessments', '[]'::jsonb) AS failing_assessments
           FROM articles
           WHERE niche_id = %s AND partition_date = %s AND deleted_at IS NULL AND status = 'needs_revision'
           ORDER BY slug""",
        (part.niche.id, part.day),
    )
    result.needs_revision = waiting
    result.already_published = conn.execute(
        """SELECT count(*) FROM articles WHERE niche_id = %s AND partition_date = %s AND deleted_at IS NULL
             AND status = 'published'""",
        (part.niche.id, part.day),
    ).fetchone()[0] - len(result.published)
    return result
