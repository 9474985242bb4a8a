"""Read one event file into a polars frame of text values, one row per record.

Every reader returns the same shape so validation does not care about the format:

- ``_line``: 1-based line in the file (JSONL, CSV) or 1-based row (Parquet),
- ``_raw``: the record as it was written (the line; a JSON rendering for Parquet, filled in later),
- ``_error``: why the record could not be parsed at all (malformed line), else null,
- one text column per schema column the file carries (absent columns are listed in ``missing``).

A file that cannot be read at all (empty, truncated Parquet, not UTF-8 text) raises
:class:`UnreadableFile` with the reason; the loader records it as one rejected row.

Speed: the hot path is vectorized polars (one read of the file as lines, one JSON parse, string
splits for CSV). Python touches single records only in the rare cases: malformed JSON lines are
isolated by bisection with the vectorized parser, and CSV lines with quotes go through the csv module.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from allixios.analytics.schemas import EventSchema

LINE = "_line"
RAW = "_raw"
ERROR = "_error"


class UnreadableFile(Exception):
    """The whole file cannot be parsed; ``str(exc)`` is the reason."""


@dataclass
class ParsedFile:
    frame: pl.DataFrame
    # schema columns the file has no column for (CSV header, Parquet schema); JSONL: empty
    missing: list[str] = field(default_factory=list)


def read_event_file(path: Path, fmt: str, schema: EventSchema) -> ParsedFile:
    if path.stat().st_size == 0:
        raise UnreadableFile("file is empty")
    if fmt == "jsonl":
        return _read_jsonl(path, schema)
    if fmt == "csv":
        return _read_csv(path, schema)
    if fmt == "parquet":
        return _read_parquet(path, schema)
    raise UnreadableFile(f"unsupported format {fmt!r}")


def _read_lines(path: Path) -> pl.DataFrame:
    """The file as (line number, text), blank lines dropped. Vectorized: polars splits the lines."""
    try:
        # \x1f (unit separator) cannot occur in valid JSON or in our CSV; a line holding one
        # raises and takes the slower Python split below.
        lines = pl.read_csv(
            path, has_header=False, separator="\x1f", quote_char=None, schema={RAW: pl.String},
            encoding="utf8-lossy", truncate_ragged_lines=False,
        )
    except pl.exceptions.NoDataError as exc:
        raise UnreadableFile("file is empty") from exc
    except pl.exceptions.ComputeError:
        text = path.read_bytes().decode("utf-8", errors="replace")
        lines = pl.DataFrame({RAW: text.split("\n")}, schema={RAW: pl.String})
        lines = lines.with_columns(pl.col(RAW).str.strip_chars_end("\r"))
        if text.endswith("\n"):
            lines = lines.slice(0, lines.height - 1)
    lines = lines.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64))
    lines = lines.filter(pl.col(RAW).is_not_null() & (pl.col(RAW).str.strip_chars() != ""))
    if lines.height == 0:
        raise UnreadableFile("file is empty (no records)")
    return lines


# --- JSONL -------------------------------------------------------------------------------------


def _read_jsonl(path: Path, schema: EventSchema) -> ParsedFile:
    text_schema = {c: pl.String for c in schema.columns}
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableFile("file is empty (no records)")
    lines_in_file = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    try:
        # fast path: a clean file parses in one call; when every line was one record the line
        # numbers are the positions (a rejected row's text is re-rendered from its values)
        parsed = pl.read_ndjson(data, schema=text_schema)
        if parsed.height == lines_in_file:
            frame = parsed.with_row_index(LINE, offset=1).with_columns(
                pl.col(LINE).cast(pl.Int64), pl.lit(None, dtype=pl.String).alias(RAW), _no_error()
            )
            return ParsedFile(frame)
    except (pl.exceptions.ComputeError, pl.exceptions.SchemaError, pl.exceptions.InvalidOperationError):
        pass
    del data
    # slow path (malformed or blank lines): line by line, still vectorized
    lines = _read_lines(path)
    stripped = pl.col(RAW).str.strip_chars()
    looks_like_object = stripped.str.starts_with("{") & stripped.str.ends_with("}")
    candidates = lines.filter(looks_like_object)
    good, bad = _bisect_parse(candidates, text_schema)
    bad_frames = [lines.filter(~looks_like_object), *bad]
    malformed = pl.concat(bad_frames).with_columns(pl.lit("malformed JSON line").alias(ERROR))
    for column in schema.columns:
        malformed = malformed.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    frames = [f.with_columns(_no_error()) for f in good] + [malformed]
    return ParsedFile(pl.concat(frames, how="diagonal_relaxed").sort(LINE))


def _bisect_parse(lines: pl.DataFrame, text_schema: dict) -> tuple[list[pl.DataFrame], list[pl.DataFrame]]:
    """Parse line sets with the vectorized reader; split a failing set in halves until the bad lines
    are alone. Returns (parsed frames, frames of unparseable lines)."""
    good: list[pl.DataFrame] = []
    bad: list[pl.DataFrame] = []
    pending = [lines]
    while pending:
        chunk = pending.pop()
        if chunk.height == 0:
            continue
        payload = chunk.select(pl.col(RAW).str.join("\n")).item().encode()
        try:
            parsed = pl.read_ndjson(payload, schema=text_schema)
            if parsed.height == chunk.height:
                good.append(pl.concat([chunk, parsed], how="horizontal"))
                continue
        except (pl.exceptions.ComputeError, pl.exceptions.SchemaError, pl.exceptions.InvalidOperationError):
            pass
        if chunk.height == 1:
            bad.append(chunk)
        else:
            half = chunk.height // 2
            pending += [chunk.slice(0, half), chunk.slice(half)]
    return good, bad


# --- CSV ---------------------------------------------------------------------------------------


def _read_csv(path: Path, schema: EventSchema) -> ParsedFile:
    lines = _read_lines(path)
    header_text = lines[0, RAW].lstrip("\ufeff")
    header = [h.strip().lower() for h in next(csv.reader([header_text]))]
    body = lines.slice(1)
    present = [c for c in schema.columns if c in header]
    missing = [c for c in schema.columns if c not in header]
    if body.height == 0:
        raise UnreadableFile("file has a header but no records")
    quoted = pl.col(RAW).str.contains('"', literal=True)
    # lines without quotes: split on commas, vectorized; the field count is exact
    simple = body.filter(~quoted)
    parts = pl.col(RAW).str.split(",")
    simple = simple.with_columns(
        pl.when(parts.list.len() != len(header))
        .then(pl.format("malformed CSV line: expected {} fields, found {}", pl.lit(len(header)), parts.list.len()))
        .otherwise(None)
        .alias(ERROR),
        *[parts.list.get(header.index(c), null_on_oob=True).alias(c) for c in present],
    )
    frames = [simple]
    rare = body.filter(quoted)
    if rare.height:
        frames.append(_parse_quoted_lines(rare, header, present))
    frame = pl.concat(frames, how="vertical_relaxed").sort(LINE)
    return ParsedFile(frame, missing)


def _parse_quoted_lines(rare: pl.DataFrame, header: list[str], present: list[str]) -> pl.DataFrame:
    """Lines with quoted fields (rare in event data) go through the csv module one by one.

    A quoted field spanning lines is not supported: each line is one record (documented).
    """
    rows: dict[str, list] = {c: [] for c in present}
    errors: list[str | None] = []
    for text in rare[RAW].to_list():
        try:
            fields = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            fields, error = [], f"malformed CSV line: {exc}"
        else:
            error = None if len(fields) == len(header) else (
                f"malformed CSV line: expected {len(header)} fields, found {len(fields)}"
            )
        errors.append(error)
        for c in present:
            i = header.index(c)
            rows[c].append(fields[i] if i < len(fields) else None)
    return rare.with_columns(
        pl.Series(ERROR, errors, dtype=pl.String),
        *[pl.Series(c, rows[c], dtype=pl.String) for c in present],
    )


# --- Parquet -----------------------------------------------------------------------------------


def _read_parquet(path: Path, schema: EventSchema) -> ParsedFile:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several types for damaged files
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise UnreadableFile(f"unreadable Parquet file ({first})") from exc
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    if frame.height == 0:
        raise UnreadableFile("Parquet file has no rows")
    present = [c for c in schema.columns if c in frame.columns]
    missing = [c for c in schema.columns if c not in frame.columns]
    columns = []
    for c in present:
        dtype = frame.schema[c]
        if isinstance(dtype, pl.Datetime):
            col = pl.col(c) if dtype.time_zone else pl.col(c).dt.replace_time_zone("UTC")
            columns.append(col.dt.convert_time_zone("UTC").dt.to_string("%Y-%m-%dT%H:%M:%S%.6f+00:00").alias(c))
        elif dtype.is_nested():
            raise UnreadableFile(f"Parquet column {c!r} has type {dtype}, expected text or a number")
        else:
            columns.append(pl.col(c).cast(pl.String).alias(c))
    out = frame.select(columns).with_row_index(LINE, offset=1).with_columns(
        pl.col(LINE).cast(pl.Int64), pl.lit(None, dtype=pl.String).alias(RAW), _no_error()
    )
    return ParsedFile(out, missing)


def _no_error() -> pl.Expr:
    return pl.lit(None, dtype=pl.String).alias(ERROR)
