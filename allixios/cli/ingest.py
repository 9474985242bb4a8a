"""`allixios ingest events`: load a day of event files by hand (the Dagster assets do it on schedule)."""

from __future__ import annotations

from datetime import date

import typer

from allixios.cli._common import JsonOption, print_json, print_table
from allixios.errors import ValidationError

app = typer.Typer(help="Load landed event files into the raw tables.", no_args_is_help=True)
KindOption = typer.Option(["page", "revenue"], "--kind", help="page, revenue (repeatable).")


def parse_day(text: str, option: str = "--date") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{option} {text!r} is not a date", fix=f"use YYYY-MM-DD, e.g. {option} 2026-11-20") from None


@app.command("events")
def events(
    day: str = typer.Option(..., "--date", "-d", help="Partition day (UTC), YYYY-MM-DD: loads landing/events/<day>/."),
    kind: list[str] = KindOption,
    as_json: bool = JsonOption,
) -> None:
    """Replace the day's raw page/revenue events with its landing folder; prints per-file reconciliation."""
    from allixios.analytics.ingest import ingest_day
    from allixios.db.engine import connect

    when = parse_day(day)
    with connect() as conn:
        summary = ingest_day(conn, when, kinds=tuple(kind))
    if as_json:
        print_json(summary)
        return
    if not summary["folder_found"]:
        typer.echo(f"no folder {summary['folder']}: nothing loaded, nothing changed")
        return
    print_table(
        summary["files"],
        ["kind", "source_file", "file_format", "rows_read", "rows_loaded", "rows_rejected", "rows_duplicate", "status", "error"],
    )
    for k, totals in summary["kinds"].items():
        typer.echo(
            f"{k}: {totals['rows_loaded']} loaded, {totals['rows_rejected']} rejected, "
            f"{totals['rows_duplicate']} duplicate of {totals['rows_read']} read in {totals['files']} file(s)"
        )
        for reason, count in list(totals["rejection_reasons"].items())[:8]:
            typer.echo(f"  {count:>6}  {reason}")


# --- imports from the tools teams use (contracts: docs/areas/analytics.md, "Imports") -----------

TenantOption = typer.Option(None, "--tenant", "-t",
                            help="Only this tenant's folder (default: every tenant folder of the kind).")
DecimalOption = typer.Option(None, "--decimal",
                             help="The files' decimal mark when no value tells (point or comma); default: detected per file.")


def _run_import(kind: str, tenant: str | None, decimal: str | None, as_json: bool) -> None:
    from allixios.analytics.imports import import_kind
    from allixios.db.engine import connect

    with connect() as conn:
        summary = import_kind(conn, kind, tenant=tenant, decimal=decimal)
    if as_json:
        print_json(summary)
        return
    if not summary["folder_found"]:
        where = f"{summary['folder']}/{tenant}" if tenant else summary["folder"]
        typer.echo(f"no folder {where}: nothing loaded, nothing changed")
        return
    print_table(summary["files"], ["tenant", "source_file", "shape", "rows_read", "rows_loaded", "rows_rejected",
                                   "rows_duplicate", "status", "error"])
    for slug, totals in summary["tenants"].items():
        typer.echo(f"{slug}: {totals['rows_loaded']} loaded, {totals['rows_rejected']} rejected, "
                   f"{totals['rows_duplicate']} duplicate of {totals['rows_read']} read in {totals['files']} file(s)")
        for reason, count in list(totals["rejection_reasons"].items())[:8]:
            typer.echo(f"  {count:>6}  {reason}")


def _import_command(kind: str, folder: str, what: str) -> None:
    def command(tenant: str | None = TenantOption, decimal: str | None = DecimalOption,
                as_json: bool = JsonOption) -> None:
        _run_import(kind, tenant, decimal, as_json)

    command.__doc__ = (f"Load {what} from landing/{folder}/<tenant>/.\n\nReplaces each tenant's rows of the kind "
                       "with what its folder holds now (idempotent) and prints the per-file reconciliation: "
                       "rows read = loaded + rejected (with the reason) + duplicate. Contract: docs/areas/analytics.md.")
    app.command(kind)(command)


_import_command("search-console", "search_console", "Search Console exports (UI CSV, bulk export)")
_import_command("ga4", "ga4", "GA4 exports (BigQuery JSONL, UI CSV)")
_import_command("plausible", "plausible", "Plausible CSV exports")
_import_command("affiliate", "affiliate", "affiliate network orders")
_import_command("ad-revenue", "ad_revenue", "ad revenue per page and day")
