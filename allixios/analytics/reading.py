"""Read one event file into a polars frame of text values, one row per record.

Every reader returns the same shape so validation does not care about the format:

- ``_line``: 1-based line in the file (JSONL, CSV) or 1-based row (Parquet),
- ``_raw``: the record as it was written (the line; a JSON rendering for Parquet, filled in later),
- ``_error``: why the record could not be parsed at all (malformed line), else null,
- one text column per schema column the file carries (absent columns are listed in ``missing``).

A file that cannot be read at all (empty, truncated Parquet, UTF-16 text, a Parquet type we cannot
read as text) raises :class:`UnreadableFile` with the reason; the loader records it as one rejected
row. Text is decoded strictly: a line that is not valid UTF-8 is a rejected record with the reason
(never silently turned into U+FFFD); the other lines of the file load.

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
    """The whole file cannot be parsed; ``str(exc)`` is the reason. ``rows`` is how many records the
    file says it holds when its format tells (Parquet metadata), else 0: they are counted rejected."""

    def __init__(self, reason: str, rows: int = 0):
        super().__init__(reason)
        self.rows = rows


UTF8_BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32", b"\xff\xfe": "UTF-16",
              b"\xfe\xff": "UTF-16"}


@dataclass
class ParsedFile:
    frame: pl.DataFrame
    # schema columns the file has no column for (CSV header, Parquet schema); JSONL: empty
    missing: list[str] = field(default_factory=list)


def read_event_file(path: Path, fmt: str, schema: EventSchema) -> ParsedFile:
    if path.stat().st_size == 0:
        raise UnreadableFile("file is empty")
    if fmt in ("jsonl", "csv"):
        _check_text_encoding(path)
    if fmt == "jsonl":
        return _read_jsonl(path, schema)
    if fmt == "csv":
        return _read_csv(path, schema)
    if fmt == "parquet":
        return _read_parquet(path, schema)
    raise UnreadableFile(f"unsupported format {fmt!r}")


def _check_text_encoding(path: Path) -> None:
    """UTF-16/32 text is a whole-file problem (every line would be garbage): say so once."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    for bom, name in _WIDE_BOMS.items():
        if head.startswith(bom):
            raise UnreadableFile(f"file is {name} text (byte-order mark {bom.hex(' ')}): save it as UTF-8")
    if head.count(b"\x00") * 4 > len(head):
        raise UnreadableFile("file looks like UTF-16 text (NUL bytes between characters): save it as UTF-8")


def _read_lines(path: Path) -> pl.DataFrame:
    """The file as (line number, text, decoding error), blank lines dropped. Vectorized: polars splits
    and validates the lines; only a file with a line that is not UTF-8 takes the Python split."""
    try:
        # \x1f (unit separator) cannot occur in valid JSON or in our CSV; a line holding one
        # raises and takes the slower Python split below, as does invalid UTF-8 (strict decoding).
        lines = pl.read_csv(
            path, has_header=False, separator="\x1f", quote_char=None, schema={RAW: pl.String},
            encoding="utf8", truncate_ragged_lines=False,
        ).with_columns(_no_error())
    except pl.exceptions.NoDataError as exc:
        raise UnreadableFile("file is empty") from exc
    except pl.exceptions.ComputeError:
        lines = _split_lines_strictly(path.read_bytes())
    lines = lines.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64))
    lines = lines.with_columns(  # a UTF-8 byte-order mark is not part of the first record
        pl.when(pl.col(LINE) == 1).then(pl.col(RAW).str.strip_prefix("\ufeff")).otherwise(pl.col(RAW)).alias(RAW)
    )
    lines = lines.filter(pl.col(RAW).is_not_null() & (pl.col(RAW).str.strip_chars() != ""))
    if lines.height == 0:
        raise UnreadableFile("file is empty (no records)")
    return lines


def _split_lines_strictly(data: bytes) -> pl.DataFrame:
    """Line by line in Python (rare: a line polars refused). A line that is not UTF-8 keeps a lossy
    copy of its text for diagnosis and an error naming the first bad byte."""
    chunks = data.split(b"\n")
    if data.endswith(b"\n"):
        chunks.pop()
    texts: list[str] = []
    errors: list[str | None] = []
    for chunk in chunks:
        chunk = chunk.removesuffix(b"\r")
        try:
            texts.append(chunk.decode("utf-8"))
            errors.append(None)
        except UnicodeDecodeError as exc:
            texts.append(chunk.decode("utf-8", errors="replace"))
            errors.append(f"line is not UTF-8 text (byte 0x{chunk[exc.start]:02x} at position {exc.start + 1}): "
                          "save the file as UTF-8")
    return pl.DataFrame({RAW: texts, ERROR: errors}, schema={RAW: pl.String, ERROR: pl.String})


# --- JSONL -------------------------------------------------------------------------------------


def _read_jsonl(path: Path, schema: EventSchema) -> ParsedFile:
    parsed = _read_jsonl_keys(path, schema)
    # keys written under another name (aliases) fill their contract column
    renamed = [(src, dst) for src, dst in schema.aliases if src in parsed.frame.columns]
    if renamed:
        frame = parsed.frame.with_columns(
            [pl.coalesce([dst, *[s for s, d in renamed if d == dst]]).alias(dst) for dst in {d for _, d in renamed}]
        ).drop([src for src, _ in renamed])
        parsed = ParsedFile(frame, parsed.missing)
    return parsed


def _read_jsonl_keys(path: Path, schema: EventSchema) -> ParsedFile:
    # objects and arrays under a key are kept as their JSON text (GA4's event_params)
    keys = [*schema.columns, *(src for src, _ in schema.aliases if src.isidentifier())]
    text_schema = {c: pl.String for c in dict.fromkeys(keys)}
    data = path.read_bytes().removeprefix(UTF8_BOM)
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
    undecodable = lines.filter(pl.col(ERROR).is_not_null())
    lines = lines.filter(pl.col(ERROR).is_null()).drop(ERROR)
    stripped = pl.col(RAW).str.strip_chars()
    looks_like_object = stripped.str.starts_with("{") & stripped.str.ends_with("}")
    candidates = lines.filter(looks_like_object)
    good, bad = _bisect_parse(candidates, text_schema)
    bad_frames = [lines.filter(~looks_like_object), *bad]
    malformed = pl.concat(bad_frames).with_columns(pl.lit("malformed JSON line").alias(ERROR))
    malformed = pl.concat([malformed, undecodable.select(malformed.columns)])
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
    if schema.comment_prefix:  # notes above the header (and between tables) are no records
        lines = lines.filter(~pl.col(RAW).str.starts_with(schema.comment_prefix))
        if lines.height == 0:
            raise UnreadableFile("file is empty (no records)")
    if lines[0, ERROR] is not None:
        raise UnreadableFile(f"CSV header {lines[0, ERROR]}")
    written = next(csv.reader([lines[0, RAW]]))
    header = [schema.canonical(h) for h in written]
    _reject_case_twins(written, schema, "CSV")
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
        pl.coalesce(
            ERROR,
            pl.when(parts.list.len() != len(header))
            .then(pl.format("malformed CSV line: expected {} fields, found {}", pl.lit(len(header)), parts.list.len())),
        ).alias(ERROR),
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
        pl.coalesce(ERROR, pl.Series(errors, dtype=pl.String)).alias(ERROR),
        *[pl.Series(c, rows[c], dtype=pl.String) for c in present],
    )


# --- Parquet -----------------------------------------------------------------------------------


def _reject_case_twins(names: list[str], schema: EventSchema, what: str) -> None:
    """Two columns that both read as one contract column (``Event_ID`` and ``event_id``): which one
    is meant cannot be guessed, so the file is rejected naming both."""
    by_key: dict[str, list[str]] = {}
    for name in names:
        by_key.setdefault(schema.canonical(name), []).append(name)
    for column in schema.columns:
        twins = by_key.get(column, [])
        if len(twins) > 1:
            raise UnreadableFile(f"{what} columns {' and '.join(map(repr, twins))} differ only by case or spaces: "
                                 f"keep one {column!r} column")


def _read_parquet(path: Path, schema: EventSchema) -> ParsedFile:
    try:
        file_schema = pl.read_parquet_schema(path)
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()  # from the metadata: no data read
    except Exception as exc:  # polars raises several types for damaged files
        raise UnreadableFile(f"unreadable Parquet file ({first_line(exc)})") from exc
    if rows == 0:
        raise UnreadableFile("Parquet file has no rows")
    _reject_case_twins(list(file_schema), schema, "Parquet")
    source = {schema.canonical(name): name for name in file_schema}
    present = [c for c in schema.columns if c in source]
    missing = [c for c in schema.columns if c not in source]
    for c in present:
        dtype = file_schema[source[c]]
        if not (dtype.is_numeric() or dtype in (pl.String, pl.Binary, pl.Boolean, pl.Date, pl.Null, pl.Categorical)
                or isinstance(dtype, pl.Datetime | pl.Enum)):
            raise UnreadableFile(f"Parquet column {source[c]!r} has type {dtype}, expected text, a number or a "
                                 "timestamp", rows)
    # only the contract's columns are read: an odd type elsewhere in the file is none of our business
    try:
        frame = (pl.read_parquet(path, columns=[source[c] for c in present]) if present
                 else pl.DataFrame()).rename({source[c]: c for c in present})
    except Exception as exc:
        raise UnreadableFile(f"unreadable Parquet file ({first_line(exc)})", rows) from exc
    columns: list[pl.Expr | pl.Series] = []
    errors: list[pl.Expr] = []
    for c in present:
        dtype = frame.schema[c]
        if isinstance(dtype, pl.Datetime):
            col = pl.col(c) if dtype.time_zone else pl.col(c).dt.replace_time_zone("UTC")
            columns.append(col.dt.convert_time_zone("UTC").dt.to_string("%Y-%m-%dT%H:%M:%S%.6f+00:00").alias(c))
        elif dtype == pl.Binary:
            text, bad = _decode_binary(frame.get_column(c))
            columns.append(text)
            errors.append(pl.when(pl.lit(bad)).then(pl.lit(f"Parquet column {c!r} holds binary that is not UTF-8 text")))
        else:
            columns.append(pl.col(c).cast(pl.String).alias(c))
    # the row count comes from the file even when none of its columns is ours: every row is then
    # rejected for the missing columns, never silently dropped
    base = pl.DataFrame({LINE: pl.int_range(1, rows + 1, eager=True, dtype=pl.Int64)})
    out = pl.concat([base, frame.select(columns)], how="horizontal") if present else base
    out = out.with_columns(
        pl.lit(None, dtype=pl.String).alias(RAW),
        (pl.coalesce(errors) if errors else pl.lit(None, dtype=pl.String)).cast(pl.String).alias(ERROR),
    )
    return ParsedFile(out, missing)


def _decode_binary(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Binary values as text where they are UTF-8 (rare column type: per value in Python)."""
    texts: list[str | None] = []
    bad: list[bool] = []
    for value in values.to_list():
        try:
            texts.append(None if value is None else value.decode("utf-8"))
            bad.append(False)
        except UnicodeDecodeError:
            texts.append(None)
            bad.append(True)
    return pl.Series(values.name, texts, dtype=pl.String), pl.Series("bad", bad, dtype=pl.Boolean)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def _no_error() -> pl.Expr:
    return pl.lit(None, dtype=pl.String).alias(ERROR)
