"""Topic intake from files dropped in a landing folder (CSV or JSON), exactly once per file content.

CSV columns: tenant, niche, title, keyphrase, keywords (separated by ';'), priority.
JSON: a list of objects with the same keys, or {"topics": [...]}. ``tenant`` defaults to the
sample tenant. A niche that does not exist yet is created (it becomes a partition key).
A file that cannot be used is moved to ``rejected/`` with a ``.reason.txt`` beside it; the
others go on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from allixios.content.topics import TopicInput, add_topics, validate_topic
from allixios.errors import AllixiosError, ValidationError
from allixios.tenants import add_niche, get_tenant, list_niches

SUFFIXES = {".csv", ".json"}


@dataclass
class IntakeOutcome:
    file_name: str
    status: str  # loaded | rejected | duplicate
    topics_added: int = 0
    partition_keys: list[str] = field(default_factory=list)
    new_niche_keys: list[str] = field(default_factory=list)
    error: str | None = None


def _rows(path: Path, text: str) -> list[dict]:
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"not valid JSON (line {exc.lineno}: {exc.msg})", fix="fix the JSON syntax") from exc
        if isinstance(data, dict):
            data = data.get("topics")
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ValidationError("JSON must be a list of topic objects or {\"topics\": [...]}", fix="wrap topics in a list")
        return data
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "title" not in reader.fieldnames or "niche" not in reader.fieldnames:
        raise ValidationError("CSV needs a header with at least 'niche' and 'title'", fix="add the header row")
    return list(reader)


def _topic(row: dict, line: int) -> tuple[str, str, TopicInput]:
    keywords = row.get("keywords") or []
    if isinstance(keywords, str):
        keywords = [k for k in keywords.split(";") if k.strip()]
    try:
        priority = int(row.get("priority") or 50)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"row {line}: priority {row.get('priority')!r} is not a number", fix="use 0-100") from exc
    niche = str(row.get("niche") or "").strip().lower()
    if not niche:
        raise ValidationError(f"row {line}: no niche", fix="fill the niche column")
    tenant = str(row.get("tenant") or "sample").strip().lower()
    try:
        topic = validate_topic(TopicInput(str(row.get("title") or ""), tuple(keywords), row.get("keyphrase"), priority))
    except AllixiosError as exc:
        raise ValidationError(f"row {line}: {exc.message}", fix=exc.fix) from exc
    return tenant, niche, topic


def ingest_topic_file(conn: psycopg.Connection, path: Path) -> IntakeOutcome:
    """Load one file in one transaction (savepoint): all its topics or none."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    seen = conn.execute("SELECT status FROM intake_files WHERE sha256 = %s", (digest,)).fetchone()
    if seen:
        return IntakeOutcome(path.name, "duplicate")
    try:
        with conn.transaction():
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValidationError("file is not UTF-8 text", fix="save it as UTF-8") from exc
            rows = _rows(path, text)
            if not rows:
                raise ValidationError("file has no topics", fix="add at least one topic row")
            parsed = [_topic(r, i + 2 if path.suffix == ".csv" else i + 1) for i, r in enumerate(rows)]
            outcome = IntakeOutcome(path.name, "loaded")
            by_niche: dict[tuple[str, str], list[TopicInput]] = {}
            for tenant, niche, topic in parsed:
                by_niche.setdefault((tenant, niche), []).append(topic)
            for (tenant_slug, niche_slug), topics in by_niche.items():
                tenant = get_tenant(conn, tenant_slug)
                existing = {n.slug: n for n in list_niches(conn, tenant)}
                niche = existing.get(niche_slug) or add_niche(conn, tenant, niche_slug)
                if niche_slug not in existing:
                    outcome.new_niche_keys.append(niche.partition_key)
                outcome.topics_added += len(add_topics(conn, niche, topics, source="file", source_ref=digest[:16]))
                outcome.partition_keys.append(niche.partition_key)
            conn.execute(
                "INSERT INTO intake_files (sha256, file_name, status, topics_added) VALUES (%s, %s, 'loaded', %s)",
                (digest, path.name, outcome.topics_added),
            )
            return outcome
    except AllixiosError as exc:
        conn.execute(
            """INSERT INTO intake_files (sha256, file_name, status, error) VALUES (%s, %s, 'rejected', %s)
               ON CONFLICT (sha256) DO NOTHING""",
            (digest, path.name, exc.one_line()),
        )
        return IntakeOutcome(path.name, "rejected", error=exc.one_line())


def pending_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def archive(path: Path, outcome: IntakeOutcome) -> Path:
    """Move a processed file to processed/ or rejected/ (with a .reason.txt), keeping its name."""
    target_dir = path.parent / ("rejected" if outcome.status == "rejected" else "processed")
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    if target.exists():
        target = target_dir / f"{path.stem}.{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}{path.suffix}"
    shutil.move(str(path), target)
    if outcome.status == "rejected":
        target.with_name(target.name + ".reason.txt").write_text((outcome.error or "rejected") + "\n")
    return target
