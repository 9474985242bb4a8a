"""Topic intake from files dropped in a landing folder (CSV or JSON), exactly once per file content.

CSV columns: tenant, niche, title, keyphrase, keywords (separated by ';'), priority.
JSON: a list of objects with the same keys, or {"topics": [...]}. A niche that does not exist yet
is created (it becomes a partition key). A file that cannot be used is moved to ``rejected/`` with
a ``.reason.txt`` beside it; the others go on.

Tenant binding (as for event feeds): a file belongs to the tenant whose folder it lands in,
``landing/topics/<tenant slug>/``; files directly in ``landing/topics/`` belong to the default
tenant (``sample``), and ``allixios topics import --tenant`` binds a file to that tenant. A row's
``tenant`` may be left empty (it is the file's tenant); a row naming another tenant rejects the
file with the reason, so a file can never add topics to a tenant other than its own.
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

from allixios import settings
from allixios.content.topics import TopicInput, add_topics, validate_topic
from allixios.errors import AllixiosError, ValidationError
from allixios.tenants import add_niche, get_tenant, list_niches

SUFFIXES = {".csv", ".json"}
DEFAULT_TENANT = "sample"
ARCHIVE_FOLDERS = ("processed", "rejected")  # inside a feed folder: never tenant folders


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


def _topic(row: dict, line: int, file_tenant: str) -> tuple[str, str, TopicInput]:
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
    tenant = str(row.get("tenant") or file_tenant).strip().lower()
    if tenant != file_tenant:
        raise ValidationError(
            f"row {line}: tenant {tenant!r} is not this file's tenant {file_tenant!r}",
            fix=f"land {tenant}'s topics in landing/topics/{tenant}/ (or `allixios topics import --tenant {tenant}`)",
        )
    try:
        topic = validate_topic(TopicInput(str(row.get("title") or ""), tuple(keywords), row.get("keyphrase"), priority))
    except AllixiosError as exc:
        raise ValidationError(f"row {line}: {exc.message}", fix=exc.fix) from exc
    return tenant, niche, topic


def _printable(name: str) -> str:
    """A path part as text PostgreSQL can store (a name that is not UTF-8 keeps its bytes as \\xNN)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace").replace("\x00", "")


def feed_tenant(path: Path, root: Path | None = None) -> str:
    """The tenant a landed topic file belongs to: its folder under the landing root, or the default
    tenant for a file directly in the root (or anywhere else)."""
    root = (root or settings.landing_dir("topics")).resolve()
    parent = path.parent.resolve()
    if parent.parent == root and path.parent.name not in ARCHIVE_FOLDERS:
        return path.parent.name
    return DEFAULT_TENANT


def ingest_topic_file(conn: psycopg.Connection, path: Path, tenant: str | None = None) -> IntakeOutcome:
    """Load one file in one transaction (savepoint): all its topics or none. ``tenant`` is the
    tenant the file is bound to (default: the folder it landed in, see :func:`feed_tenant`)."""
    file_tenant = _printable((tenant or feed_tenant(path)).strip().lower())
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    seen = conn.execute("SELECT status FROM intake_files WHERE tenant = %s AND sha256 = %s",
                        (file_tenant, digest)).fetchone()
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
            get_tenant(conn, file_tenant)  # an unknown tenant folder rejects the file, naming it
            parsed = [_topic(r, i + 2 if path.suffix == ".csv" else i + 1, file_tenant) for i, r in enumerate(rows)]
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
                """INSERT INTO intake_files (tenant, sha256, file_name, status, topics_added)
                   VALUES (%s, %s, %s, 'loaded', %s)""",
                (file_tenant, digest, path.name, outcome.topics_added),
            )
            return outcome
    except AllixiosError as exc:
        conn.execute(
            """INSERT INTO intake_files (tenant, sha256, file_name, status, error) VALUES (%s, %s, %s, 'rejected', %s)
               ON CONFLICT (tenant, sha256) DO NOTHING""",
            (file_tenant, digest, path.name, exc.one_line()),
        )
        return IntakeOutcome(path.name, "rejected", error=exc.one_line())


def pending_files(folder: Path) -> list[Path]:
    """Waiting files: those directly in the landing folder (the default tenant's), then those in
    each tenant folder. Archive folders and symbolic links are not read."""
    if not folder.is_dir():
        return []

    def files_in(d: Path) -> list[Path]:
        return sorted(p for p in d.iterdir() if p.is_file() and not p.is_symlink() and p.suffix.lower() in SUFFIXES)

    tenant_folders = sorted(d for d in folder.iterdir()
                            if d.is_dir() and not d.is_symlink() and d.name not in ARCHIVE_FOLDERS)
    return files_in(folder) + [p for d in tenant_folders for p in files_in(d)]


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
