"""Numbers as other tools and locales write them: ``1,234.5`` / ``1.234,5`` / ``12,3 %`` / ``1 234``.

An export's locale is a property of the file, not of a value: "1.234" is one thousand two hundred
and thirty-four in Germany and one point two three four in the US. So the decimal mark is decided
once per file from the values that can only be read one way (``12,34``, ``1.234,5``, ``0.5``,
``1,234.5``), then every value of the file is read with it:

- one mark seen (or forced with ``--decimal``): every value is read with it; a value that cannot be
  read so (``1.234,5`` in a decimal-point file) is rejected naming the file's format;
- both marks seen: the file mixes locales; it is rejected (which one is meant cannot be guessed);
- neither: plain integers read fine, and a value that reads both ways (``1.234``, ``1,234``) is
  rejected as ambiguous with the fix (``--decimal point`` or ``--decimal comma``).

Spaces (also no-break and narrow no-break spaces, as French exports use) and apostrophes (Swiss
grouping) are thousands separators and ignored. A trailing ``%`` divides by 100. Vectorized polars.
"""

from __future__ import annotations

import polars as pl

POINT = "point"
COMMA = "comma"
DECIMAL_MARKS = (POINT, COMMA)

_PLAIN = r"^[-+]?\d+$"
_POINT_DECIMAL = r"^[-+]?\d*\.\d+$"
_COMMA_DECIMAL = r"^[-+]?\d*,\d+$"
_POINT_GROUPED = r"^[-+]?[1-9]\d{0,2}(,\d{3})+(\.\d+)?$"  # 1,234 / 1,234.5
_COMMA_GROUPED = r"^[-+]?[1-9]\d{0,2}(\.\d{3})+(,\d+)?$"  # 1.234 / 1.234,5
_AMBIGUOUS = r"^[-+]?[1-9]\d{0,2}[.,]\d{3}$"  # 1.234 and 1,234 read both ways


class MixedLocales(Exception):
    """The file writes numbers with both decimal marks; ``str(exc)`` names an example of each."""


def cleaned(column: str) -> pl.Expr:
    """The value without grouping spaces/apostrophes, and without a trailing percent sign."""
    return (pl.col(column).str.replace_all(r"[\s\u00a0\u202f']", "").str.strip_suffix("%"))


def percent(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().str.ends_with("%")


def _evidence(column: str) -> tuple[pl.Expr, pl.Expr]:
    v = cleaned(column)
    ambiguous = v.str.contains(_AMBIGUOUS)
    point = (v.str.contains(_POINT_DECIMAL) | v.str.contains(_POINT_GROUPED)) & ~ambiguous
    comma = (v.str.contains(_COMMA_DECIMAL) | v.str.contains(_COMMA_GROUPED)) & ~ambiguous
    return point.fill_null(False), comma.fill_null(False)


def decimal_mark(frame: pl.DataFrame, columns: list[str], forced: str | None = None) -> str | None:
    """The file's decimal mark (``point``/``comma``), None when no value tells; raises
    :class:`MixedLocales` when values tell both."""
    if forced is not None:
        return forced
    present = [c for c in columns if c in frame.columns]
    if not present or frame.height == 0:
        return None
    seen = {}
    for c in present:  # exports repeat their values: look at each distinct one once
        point, comma = _evidence(c)
        seen.update(frame.select(pl.col(c).unique()).select(point.any().alias(f"{c}:point"),
                                                            comma.any().alias(f"{c}:comma")).row(0, named=True))
    has_point = any(v for k, v in seen.items() if k.endswith(":point"))
    has_comma = any(v for k, v in seen.items() if k.endswith(":comma"))
    if has_point and has_comma:
        examples = []
        for mark in (POINT, COMMA):
            column = next(k.split(":")[0] for k, v in seen.items() if v and k.endswith(f":{mark}"))
            expr = _evidence(column)[0 if mark == POINT else 1]
            examples.append(f"{column} {frame.select(pl.col(column).unique(maintain_order=True)).filter(expr).item(0, 0)!r}")
        raise MixedLocales(
            f"numbers are written with both decimal marks ({examples[0]} reads as decimal point, {examples[1]} as "
            "decimal comma): export the file again in one locale"
        )
    return POINT if has_point else COMMA if has_comma else None


def parse(column: str, mark: str | None) -> pl.Expr:
    """The value as a float (null when it cannot be read with ``mark``; see :func:`problem`).
    A trailing % is kept as the number written (``percent`` tells; callers divide)."""
    v = cleaned(column)
    point = v.str.replace_all(",", "", literal=True)
    comma = v.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    plain = v.str.contains(_PLAIN)
    if mark == POINT:
        ok = v.str.contains(_PLAIN) | v.str.contains(_POINT_DECIMAL) | v.str.contains(_POINT_GROUPED)
        return pl.when(ok).then(point.cast(pl.Float64, strict=False))
    if mark == COMMA:
        ok = v.str.contains(_PLAIN) | v.str.contains(_COMMA_DECIMAL) | v.str.contains(_COMMA_GROUPED)
        return pl.when(ok).then(comma.cast(pl.Float64, strict=False))
    # no mark known: only what reads one way
    point_only = (v.str.contains(_POINT_DECIMAL) | v.str.contains(_POINT_GROUPED)) & ~v.str.contains(_AMBIGUOUS)
    return pl.when(plain | point_only).then(point.cast(pl.Float64, strict=False))


def problem(column: str, mark: str | None) -> pl.Expr:
    """Why a present value did not parse (null when it did or is absent)."""
    v = cleaned(column)
    text = pl.col(column)
    bad = text.is_not_null() & parse(column, mark).is_null()
    if mark is None:
        return (
            pl.when(bad & v.str.contains(_AMBIGUOUS))
            .then(pl.format("{} '{}' is ambiguous (thousands separator or decimal mark?) and nothing else in the "
                            "file tells: re-run with --decimal point or --decimal comma", pl.lit(column), text))
            .when(bad)
            .then(pl.format("{} '{}' is not a number", pl.lit(column), text))
        )
    example = "1,234.5" if mark == POINT else "1.234,5"
    return pl.when(bad).then(
        pl.format("{} '{}' is not a number in this file's format (decimal {}, e.g. {})", pl.lit(column), text,
                  pl.lit(mark), pl.lit(example))
    )


def parsed(frame: pl.DataFrame, columns: list[str], mark: str | None) -> pl.DataFrame:
    """The frame with ``<column>_n`` (the number) and ``<column>_problem`` (why it is not one) for
    each column, computed once per distinct value (the regular expressions are the cost)."""
    for c in columns:
        if c not in frame.columns:
            continue
        values = frame.select(pl.col(c).unique()).filter(pl.col(c).is_not_null())
        values = values.with_columns(parse(c, mark).alias(f"{c}_n"), problem(c, mark).alias(f"{c}_problem"))
        frame = frame.join(values, on=c, how="left")
    return frame
