"""`allixios ai`: the model catalogue and its health, usage from the ledger, per-tenant budgets."""

from __future__ import annotations

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json, print_table
from allixios.db.engine import connect
from allixios.tenants import get_tenant

app = typer.Typer(help="Models, usage and budgets of the AI layer.", no_args_is_help=True)
budget_app = typer.Typer(help="Per-tenant AI budgets (daily and monthly, USD, UTC periods).")
app.add_typer(budget_app, name="budget")

ModelsFileOption = typer.Option(None, "--models-file", help="Catalogue to read (default: ALLIXIOS_MODELS_FILE or config/models.yaml).")


@app.command("models")
def models(models_file: str = ModelsFileOption, as_json: bool = JsonOption) -> None:
    """List every deployment per task alias with its key status, price, prior and health."""
    from allixios.ai.catalogue import load_catalogue
    from allixios.ai.usage import models_health

    catalogue = load_catalogue(models_file)
    with connect() as conn:
        rows = models_health(conn, catalogue)
    if as_json:
        print_json(rows)
        return
    print_table(rows, ["alias", "deployment", "model", "key", "usd_per_mtok_in_out", "quality_prior", "health", "calls_24h", "failures_24h"])
    typer.echo(f"catalogue: {catalogue.path}  (offline stand-ins are used only when an alias has no real deployment with its key)")


@app.command("usage")
def usage(
    tenant: str = typer.Option(None, "--tenant", "-t", help="Only this tenant (slug)."),
    days: int = typer.Option(7, help="Days back, today included."),
    as_json: bool = JsonOption,
) -> None:
    """Calls, tokens, cost and failures by tenant, model and day, from the ai_usage ledger."""
    from allixios.ai.usage import usage_report
    from allixios.errors import ValidationError

    if days < 1:
        raise ValidationError(f"--days {days} is not positive", fix="use --days 1 or more")
    with connect() as conn:
        tenant_id = get_tenant(conn, tenant).id if tenant else None
        rows = usage_report(conn, tenant_id, days)
    print_json(rows) if as_json else print_table(rows)


@budget_app.callback(invoke_without_command=True)
def budget_show(ctx: typer.Context, tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """Show the tenant's limits, spent, reserved and remaining for today and this month."""
    if ctx.invoked_subcommand is not None:
        return
    from allixios.ai.budgets import budget_status

    with connect() as conn:
        t = get_tenant(conn, tenant)
        rows = [
            {"tenant": t.slug, "period": s.period, "limit_usd": s.limit_usd, "spent_usd": round(s.spent_usd, 6),
             "reserved_usd": round(s.reserved_usd, 6), "remaining_usd": round(s.remaining_usd, 6)}
            for s in budget_status(conn, t.id)
        ]
    if as_json:
        print_json(rows)
    elif not rows:
        typer.echo(f"tenant {t.slug} has no AI budget (calls are not limited); set one with `allixios ai budget set`")
    else:
        print_table(rows)


@budget_app.command("set")
def budget_set(
    tenant: str = TenantOption,
    daily: float = typer.Option(None, "--daily", help="Daily limit in USD (UTC day)."),
    monthly: float = typer.Option(None, "--monthly", help="Monthly limit in USD (UTC month)."),
) -> None:
    """Set the daily and/or monthly limit; calls whose estimate exceeds what is left are skipped."""
    from allixios.ai.budgets import budget_status, set_budget

    with connect() as conn:
        t = get_tenant(conn, tenant)
        set_budget(conn, t.id, daily, monthly)
        status = budget_status(conn, t.id)
    typer.echo(f"budget for {t.slug}: " + ", ".join(f"{s.period} ${s.limit_usd:g} (${s.remaining_usd:.4f} left)" for s in status))
