"""The topic backlog: adding topics by hand, from files, or from research."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import psycopg

from allixios.errors import ValidationError
from allixios.tenants import Niche

MAX_TITLE_CHARS = 300


@dataclass(frozen=True)
class TopicInput:
    title: str
    keywords: tuple[str, ...] = ()
    target_keyphrase: str | None = None
    priority: int = 50


def validate_topic(topic: TopicInput) -> TopicInput:
    title = " ".join((topic.title or "").split())
    if not title:
        raise ValidationError("topic title is empty", fix="give the topic a title of 1-300 characters")
    if len(title) > MAX_TITLE_CHARS:
        raise ValidationError(
            f"topic title is {len(title)} characters long", fix=f"shorten it to at most {MAX_TITLE_CHARS} characters"
        )
    if not 0 <= topic.priority <= 100:
        raise ValidationError(f"topic priority {topic.priority} is out of range", fix="use a priority from 0 to 100")
    keywords = tuple(k.strip().lower() for k in topic.keywords if k and k.strip())
    keyphrase = " ".join((topic.target_keyphrase or "").split()).lower() or None
    return TopicInput(title, keywords, keyphrase, topic.priority)


def add_topics(
    conn: psycopg.Connection, niche: Niche, topics: list[TopicInput], source: str = "cli", source_ref: str | None = None
) -> list[UUID]:
    """Insert topics into the niche backlog; a title already in the niche is skipped. Returns new ids."""
    checked = [validate_topic(t) for t in topics]
    ids: list[UUID] = []
    for t in checked:
        row = conn.execute(
            """INSERT INTO topics (tenant_id, niche_id, title, keywords, target_keyphrase, priority, source, source_ref)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (tenant_id, niche_id, lower(btrim(title))) DO NOTHING
               RETURNING id""",
            (niche.tenant_id, niche.id, t.title, list(t.keywords), t.target_keyphrase, t.priority, source, source_ref),
        ).fetchone()
        if row:
            ids.append(row[0])
    return ids
