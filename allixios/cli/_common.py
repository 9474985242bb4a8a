"""Shared CLI helpers: connections, tenant option, table and JSON output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import typer

TenantOption = typer.Option("sample", "--tenant", "-t", help="Tenant slug.")
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts instead of a table.")


def _plain(value: Any) -> Any:
    if isinstance(value, (UUID, date, datetime)):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, default=_plain, indent=2))


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """A plain aligned table: readable in a terminal and in CI logs."""
    if not rows:
        typer.echo("(no rows)")
        return
    cols = list(columns or rows[0].keys())

    def cell(v: Any) -> str:
        v = _plain(v)
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 1 else f"{v:,.2f}"
        if isinstance(v, (list, tuple)):
            return ", ".join(map(str, v))
        text = "" if v is None else str(v)
        return text if len(text) <= 60 else text[:57] + "..."

    body = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(line[i]) for line in body)) for i, c in enumerate(cols)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    typer.echo("  ".join("-" * w for w in widths))
    for line in body:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)))
