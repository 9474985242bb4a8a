"""Load a day of event files into ``raw.*`` with PostgreSQL COPY.

``ingest_day`` replaces the partition: inside the caller's transaction it deletes the day's rows
(events, rejections, file records) of the kinds it loads, then COPYs what the day's folder holds
now. Re-running is therefore idempotent, and a duplicate (tenant, event id) within the day is loaded
once (the first occurrence by file path and line wins; later ones are counted as duplicates). Two
tenants may number their events alike: an event is keyed by (day, tenant, event id).

Tenant binding: a day folder holds one folder per tenant (``YYYY-MM-DD/<tenant slug>/page_web.jsonl``);
the folder is the feed's tenant and a row naming another tenant is rejected with the reason. Files
directly in the day folder belong to the default tenant (``schemas.DEFAULT_TENANT``).

Every file is reconciled in ``raw.ingested_files``: rows_read = rows_loaded + rows_rejected +
rows_duplicate. A file that cannot be read at all (or whose processing fails in any way) is recorded
with status ``rejected``, its reason in ``error``, and one row in ``raw.rejected_events`` without a
line number: one bad file never costs the other files, one bad row never costs the other rows.
A symbolic link that leaves its folder is not read (recorded rejected with the reason).
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
from psycopg import sql

from allixios import settings
from allixios.analytics import schemas
from allixios.analytics.reading import LINE, UnreadableFile, first_line, read_event_file
from allixios.analytics.validation import LOAD_COLUMNS, Lookups, storable, validate
from allixios.errors import ValidationError

RAW_TABLES = {schemas.PAGE: "page_events", schemas.REVENUE: "revenue_events"}
REJECTED_COLUMNS = ("kind", "event_date", "source_file", "line_number", "raw_record", "reason")
COPY_CHUNK_ROWS = 200_000


@dataclass
class FileReport:
    kind: str
    source_file: str
    file_format: str
    sha256: str
    bytes: int
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    status: str = "loaded"
    error: str | None = None


def events_root() -> Path:
    return settings.landing_dir("events")


def day_folder(day: date, root: Path | None = None) -> Path:
    return (root or events_root()) / day.isoformat()


def feed_folder(day: date, tenant_slug: str, root: Path | None = None) -> Path:
    """Where a tenant's event files for ``day`` land: its rows are bound to that tenant."""
    return day_folder(day, root) / tenant_slug


@dataclass(frozen=True)
class LandedFile:
    path: Path
    source_file: str  # "YYYY-MM-DD/<tenant>/<name>" (or "YYYY-MM-DD/<name>"), as recorded
    tenant_slug: str  # the feed's tenant: its folder, or the default tenant for the day folder itself
    problem: str | None = None  # why the file is not read (a link leaving its folder, a name not UTF-8)


def _ours(path: Path) -> bool:
    """Hidden and in-flight files (.tmp, .part, ~) are not ours yet."""
    return not path.name.startswith(".") and not path.name.endswith(("~", ".tmp", ".part"))


def _printable(name: str) -> str:
    """A file name as text PostgreSQL can store (names that are not UTF-8 keep their bytes as \\xNN)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


def _landing_files(folder: Path) -> list[LandedFile]:
    """The day's files, in path order: those of each tenant folder and those directly in the day
    folder (the default tenant's). Only regular files count; a symbolic link is followed only when it
    stays in its own folder (a link to a system file or to another tenant's folder is recorded, never
    read). A tenant folder that cannot be listed is recorded as one rejected entry."""
    real_day = folder.resolve()
    found: list[LandedFile] = []
    for entry in sorted(folder.iterdir()):
        if not _ours(entry):
            continue
        if entry.is_dir():
            expected, tenant, prefix = real_day / entry.name, entry.name, f"{folder.name}/{_printable(entry.name)}/"
            try:
                files = sorted(entry.iterdir())
            except OSError as exc:
                found.append(LandedFile(entry, prefix, tenant, f"cannot list the folder ({type(exc).__name__})"))
                continue
        elif entry.is_file():
            expected, tenant, files, prefix = real_day, schemas.DEFAULT_TENANT, [entry], f"{folder.name}/"
        else:
            continue
        for path in files:
            if not _ours(path) or not path.is_file():
                continue
            problem = None
            if path.resolve().parent != expected:
                problem = "symbolic link leading out of its folder: not read (land the file itself)"
            elif _printable(path.name) != path.name or _printable(tenant) != tenant:
                problem = "file or folder name is not UTF-8 text: rename it"
            found.append(LandedFile(path, prefix + _printable(path.name), tenant, problem))
    # a name made printable could repeat another: keep the record key unique
    seen: Counter = Counter()
    unique = []
    for f in found:
        seen[f.source_file] += 1
        unique.append(f if seen[f.source_file] == 1 else
                      LandedFile(f.path, f"{f.source_file} ({seen[f.source_file]})", f.tenant_slug, f.problem))
    return unique


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ingest_day(
    conn: psycopg.Connection,
    day: date | str,
    kinds: tuple[str, ...] | list[str] = schemas.KINDS,
    root: Path | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Replace the day's raw events with the contents of its landing folder; returns the counts.

    The caller owns the transaction (``with connect() as conn``): nothing is visible until it
    commits, and a failure leaves the previous load in place. A day without a folder changes
    nothing and reports ``folder_found: False``.
    """
    day = date.fromisoformat(day) if isinstance(day, str) else day
    unknown = [k for k in kinds if k not in schemas.KINDS]
    if unknown:
        raise ValidationError(f"unknown event kind(s) {unknown}", fix=f"use {' or '.join(schemas.KINDS)}")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    folder = day_folder(day, root)
    summary: dict[str, Any] = {"day": day.isoformat(), "folder": str(folder), "folder_found": folder.is_dir(), "kinds": {}}
    if not folder.is_dir():
        return summary
    files = _landing_files(folder)
    lookups = Lookups.load(conn)
    tenant_ids = dict(conn.execute("SELECT slug, id::text FROM tenants").fetchall())
    reports: list[FileReport] = []
    for kind in sorted(set(kinds), key=schemas.KINDS.index):  # one lock order for every caller: no deadlock
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"allixios.ingest:{kind}:{day.isoformat()}",))
        # files whose name says neither kind are reported (rejected) by the page-event load
        mine = [f for f in files if (schemas.kind_of(f.path) or schemas.PAGE) == kind]
        kind_reports, reasons = _load_kind(conn, kind, day, mine, now, lookups, tenant_ids)
        reports += kind_reports
        summary["kinds"][kind] = reconciliation(kind_reports, reasons)
    summary["files"] = [asdict(r) for r in reports]
    return summary


def reconciliation(reports, reasons: Counter) -> dict[str, Any]:
    """The totals of a set of file reports (event files or tool imports): read = loaded + rejected + duplicate."""
    return {
        "files": len(reports),
        "files_rejected": sum(r.status == "rejected" for r in reports),
        "rows_read": sum(r.rows_read for r in reports),
        "rows_loaded": sum(r.rows_loaded for r in reports),
        "rows_rejected": sum(r.rows_rejected for r in reports),
        "rows_duplicate": sum(r.rows_duplicate for r in reports),
        "rejection_reasons": dict(reasons.most_common()),
    }


def _load_kind(
    conn: psycopg.Connection, kind: str, day: date, files: list[LandedFile], now: datetime, lookups: Lookups,
    tenant_ids: dict[str, str],
) -> tuple[list[FileReport], Counter]:
    table = RAW_TABLES[kind]
    conn.execute(sql.SQL("DELETE FROM raw.{} WHERE event_date = %s").format(sql.Identifier(table)), (day,))
    conn.execute("DELETE FROM raw.rejected_events WHERE kind = %s AND event_date = %s", (kind, day))
    conn.execute("DELETE FROM raw.ingested_files WHERE kind = %s AND event_date = %s", (kind, day))

    reports: list[FileReport] = []
    rejected_frames: list[pl.DataFrame] = []
    reasons: Counter = Counter()
    schema = schemas.SCHEMAS[kind]
    keys = ["tenant_id", "event_id"]
    seen: pl.DataFrame | None = None  # (tenant, event id) already loaded today: the first occurrence wins
    # file by file: PostgreSQL parses one file's COPY while polars prepares the next
    with CopyStream(conn, f"raw.{table}", LOAD_COLUMNS[kind]) as stream:
        for landed in files:
            path, source_file = landed.path, landed.source_file
            fmt = schemas.format_of(path)
            report = FileReport(kind, source_file, fmt or _printable(path.suffix.lstrip(".")) or "unknown", "", 0)
            reports.append(report)
            try:
                if landed.problem:
                    raise UnreadableFile(landed.problem)
                report.bytes, report.sha256 = path.stat().st_size, _sha256(path)
                if landed.tenant_slug not in tenant_ids:
                    raise UnreadableFile(f"folder {landed.tenant_slug!r} names no tenant: land a tenant's files in "
                                         f"{day.isoformat()}/<tenant slug>/")
                if schemas.kind_of(path) is None:
                    raise UnreadableFile("file name must start with page_ or revenue_ to say what it holds")
                if fmt is None:
                    raise UnreadableFile(f"unsupported file type {path.suffix or '(none)'}: use .jsonl, .csv or .parquet")
                parsed = read_event_file(path, fmt, schema)
                valid, rejected = validate(parsed.frame, kind, day, now, lookups, source_file, parsed.missing,
                                           feed_tenant=(tenant_ids[landed.tenant_slug], landed.tenant_slug))
                unique = valid.sort(LINE).filter(pl.struct(keys).is_first_distinct())
                if seen is not None and seen.height:
                    unique = unique.join(seen, on=keys, how="anti")
            except Exception as exc:  # noqa: BLE001 - one bad file must never cost the other files
                reason = _safe_text(str(exc) if isinstance(exc, UnreadableFile) else (
                    f"file could not be processed ({type(exc).__name__}: {first_line(exc)})"))
                rows = exc.rows if isinstance(exc, UnreadableFile) else 0
                report.status, report.error = "rejected", reason
                report.rows_read = report.rows_rejected = rows
                reasons[reason] += 1
                rejected_frames.append(_file_rejection(kind, day, source_file, reason))
                continue
            report.rows_read = parsed.frame.height
            report.rows_rejected = rejected.height
            if rejected.height:
                report.status = "partial"
                reasons.update(dict(rejected.group_by("reason").len().iter_rows()))
                rejected_frames.append(rejected)
            report.rows_loaded = unique.height
            report.rows_duplicate = valid.height - unique.height
            stream.put(unique.select(LOAD_COLUMNS[kind]))
            ids = unique.select(keys)
            seen = ids if seen is None else pl.concat([seen, ids])

    if rejected_frames:
        rejected = pl.concat(rejected_frames, how="vertical_relaxed")
        copy_frame(conn, "raw.rejected_events", REJECTED_COLUMNS, rejected.select(REJECTED_COLUMNS))
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO raw.ingested_files (kind, event_date, source_file, file_format, sha256, bytes,
                   rows_read, rows_loaded, rows_rejected, rows_duplicate, status, error)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (r.kind, day, r.source_file, r.file_format, r.sha256, r.bytes, r.rows_read, r.rows_loaded,
                 r.rows_rejected, r.rows_duplicate, r.status, r.error)
                for r in reports
            ],
        )
    return reports, reasons


def _file_rejection(kind: str, day: date, source_file: str, reason: str) -> pl.DataFrame:
    return pl.DataFrame(
        {"kind": [kind], "event_date": [day], "source_file": [source_file], "line_number": [None],
         "raw_record": [None], "reason": [reason]},
        schema={"kind": pl.String, "event_date": pl.Date, "source_file": pl.String, "line_number": pl.Int64,
                "raw_record": pl.String, "reason": pl.String},
    ).with_columns(storable("reason").alias("reason"))


def _safe_text(text: str) -> str:
    """A reason PostgreSQL can store whatever produced it: no NUL, no lone surrogate, bounded."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")[:1000]


def _copy_statement(table: str, columns: tuple[str, ...]) -> sql.Composed:
    schema_name, table_name = table.split(".")
    return sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(schema_name), sql.Identifier(table_name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )


def _write_csv_chunks(copy, frame: pl.DataFrame) -> None:
    """polars renders CSV text in large chunks (no per-row Python); PostgreSQL parses it."""
    for chunk in frame.iter_slices(COPY_CHUNK_ROWS):
        buffer = io.BytesIO()
        chunk.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%d %H:%M:%S%.6f%:z")
        copy.write(buffer.getbuffer())


def copy_frame(conn: psycopg.Connection, table: str, columns: tuple[str, ...], frame: pl.DataFrame) -> int:
    """COPY a frame into ``table``."""
    with conn.cursor() as cur, cur.copy(_copy_statement(table, columns)) as copy:
        _write_csv_chunks(copy, frame)
    return frame.height


_DONE = object()
_ABORT = object()


class CopyStream:
    """One COPY into ``table`` fed with frames from a background thread.

    The caller keeps preparing the next frame (polars releases the GIL) while this thread renders
    CSV and PostgreSQL parses it. The connection must not be used for anything else until the
    block ends; an error on either side aborts the COPY and is raised by the block.
    """

    def __init__(self, conn: psycopg.Connection, table: str, columns: tuple[str, ...]):
        self._conn = conn
        self._statement = _copy_statement(table, columns)
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"copy-{table}", daemon=True)

    def __enter__(self) -> CopyStream:
        self._thread.start()
        return self

    def put(self, frame: pl.DataFrame) -> None:
        if self._error is not None:
            raise self._error
        if frame.height:
            self._queue.put(frame)

    def _run(self) -> None:
        finished = False  # the end marker (_DONE or _ABORT) was taken from the queue
        try:
            with self._conn.cursor() as cur, cur.copy(self._statement) as copy:
                while True:
                    item = self._queue.get()
                    finished = item is _DONE or item is _ABORT
                    if item is _DONE:
                        break
                    if item is _ABORT:
                        raise _CopyAborted
                    _write_csv_chunks(copy, item)
        except BaseException as exc:  # handed to the caller's thread
            self._error = exc
            while not finished:  # keep the producer from blocking on a full queue
                item = self._queue.get()
                finished = item is _DONE or item is _ABORT

    def __exit__(self, exc_type, exc, tb) -> None:
        self._queue.put(_ABORT if exc_type else _DONE)
        self._thread.join()
        if exc_type is None and self._error is not None:
            raise self._error


class _CopyAborted(Exception):
    """The producer failed: the COPY is cancelled and the caller's error propagates."""
