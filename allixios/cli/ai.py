"""`allixios ai`: the model catalogue and its health, usage from the ledger, per-tenant budgets."""

from __future__ import annotations

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json, print_table
from allixios.db.engine import connect
from allixios.tenants import get_tenant

app = typer.Typer(help="Models, usage and budgets of the AI layer.", no_args_is_help=True)
budget_app = typer.Typer(help="Per-tenant AI budgets (daily and monthly, USD, UTC periods).")
app.add_typer(budget_app, name="budget")
circuit_app = typer.Typer(help="Circuit breakers per deployment (shared by every process).", no_args_is_help=True)
app.add_typer(circuit_app, name="circuit")
failover_app = typer.Typer(help="Stored failover order per alias (overrides the quality-per-cost ranking; audited).",
                           no_args_is_help=True)
app.add_typer(failover_app, name="failover")
ActorOption = typer.Option("cli", "--actor", help="Who makes the change (written to audit_log).")

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
    print_table(rows, ["alias", "deployment", "model", "key", "usd_per_mtok_in_out", "quality_prior", "health",
                       "reliability_7d", "usd_per_request", "limits", "calls_24h", "failures_24h"])
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


@app.command("switch")
def switch(
    from_id: str = typer.Option(None, "--from", help="Deployment to drain."),
    to_id: str = typer.Option(None, "--to", help="Deployment of the same alias that takes its traffic."),
    undo: str = typer.Option(None, "--undo", help="Give this drained deployment its traffic back."),
    wait: float = typer.Option(0, "--wait", help="Seconds to wait for calls in flight on --from to finish."),
    reason: str = typer.Option(None, "--reason", help="Why (kept with the override and in audit_log)."),
    actor: str = ActorOption,
    models_file: str = ModelsFileOption,
) -> None:
    """switchProvider: drain one deployment to another for every process, recorded and audited."""
    import time

    from allixios.ai import overrides
    from allixios.ai.catalogue import load_catalogue
    from allixios.errors import ValidationError

    if undo:
        with connect() as conn:
            done = overrides.undo_switch(conn, undo, actor=actor)
        typer.echo(f"{undo} takes traffic again" if done else f"{undo} was not drained")
        return
    if not from_id or not to_id:
        raise ValidationError("switch needs --from and --to", fix="run `allixios ai switch --from A --to B` (or --undo A)")
    catalogue = load_catalogue(models_file)
    with connect() as conn:
        out = overrides.switch(conn, catalogue, from_id, to_id, actor=actor, reason=reason)
    typer.echo(f"switched {out['alias']}: {out['from']} -> {out['to']} ({out['in_flight']} call(s) in flight on "
               f"{out['from']} finish there)")
    deadline = time.monotonic() + wait
    while wait and time.monotonic() < deadline:
        with connect() as conn:
            left = overrides.in_flight(conn, out["from"])
        if not left:
            typer.echo(f"{out['from']} is drained")
            return
        time.sleep(0.5)
    if wait:
        typer.echo(f"{out['from']} still has {left} call(s) in flight after {wait:g} s")


@circuit_app.command("status")
def circuit_status(models_file: str = ModelsFileOption, as_json: bool = JsonOption) -> None:
    """Every deployment's circuit: state, consecutive failures, when it opened, the last error class."""
    from allixios.ai import circuit
    from allixios.ai.catalogue import load_catalogue

    catalogue = load_catalogue(models_file)
    with connect() as conn:
        states = circuit.states(conn)
    rows = [{"deployment": d.id, "alias": d.alias, "state": states.get(d.id, {}).get("state", "closed"),
             "consecutive_failures": states.get(d.id, {}).get("consecutive_failures", 0),
             "opened_at": states.get(d.id, {}).get("opened_at"),
             "last_error_class": states.get(d.id, {}).get("last_error_class")} for d in catalogue.all_deployments()]
    print_json(rows) if as_json else print_table(rows)


@circuit_app.command("reset")
def circuit_reset(
    deployment: str = typer.Argument(None, help="Deployment id (default: every circuit)."),
    actor: str = ActorOption,
) -> None:
    """Close a circuit (or all) now, e.g. after the provider confirmed the fix; audited."""
    from psycopg.types.json import Jsonb

    from allixios.ai import circuit

    with connect() as conn:
        before = circuit.states(conn)
        circuit.reset(conn, deployment)
        conn.execute("""INSERT INTO audit_log (tenant_id, actor, action, entity_type, entity_id, details)
                        VALUES (NULL, %s, 'ai.circuit_reset', 'ai_routing', %s, %s)""",
                     (actor, deployment or "*", Jsonb({k: v["state"] for k, v in before.items()
                                                       if deployment in (None, k)})))
    typer.echo(f"circuit of {deployment} closed" if deployment else "all circuits closed")


@failover_app.command("show")
def failover_show(as_json: bool = JsonOption) -> None:
    """Stored overrides: failover orders and drains (global and per tenant)."""
    from allixios.ai import overrides

    with connect() as conn:
        rows = overrides.list_overrides(conn, every_tenant=True)
    if as_json:
        print_json(rows)
    elif not rows:
        typer.echo("no stored overrides: every alias is ranked by quality per cost (config/models.yaml)")
    else:
        print_table(rows)


@failover_app.command("set")
def failover_set(
    alias: str = typer.Argument(..., help="Task alias, e.g. writer."),
    order: str = typer.Argument(..., help="Deployment ids, comma-separated, first = tried first."),
    reason: str = typer.Option(None, "--reason"),
    actor: str = ActorOption,
    models_file: str = ModelsFileOption,
) -> None:
    """configureFailover: store the order the alias' deployments are tried in."""
    from allixios.ai import overrides
    from allixios.ai.catalogue import load_catalogue

    with connect() as conn:
        stored = overrides.set_failover(conn, load_catalogue(models_file), alias, order.split(","), actor=actor,
                                        reason=reason)
    typer.echo(f"{alias}: failover order {' -> '.join(stored)}")


@failover_app.command("clear")
def failover_clear(alias: str = typer.Argument(...), actor: str = ActorOption) -> None:
    """Drop the stored order: the alias is ranked by quality per cost again."""
    from allixios.ai import overrides

    with connect() as conn:
        done = overrides.clear_failover(conn, alias, actor=actor)
    typer.echo(f"{alias}: stored failover order removed" if done else f"{alias} had no stored failover order")


finetune_app = typer.Typer(help="Model improvement: fine-tuning datasets from the best articles.", no_args_is_help=True)
app.add_typer(finetune_app, name="finetune")


@finetune_app.command("export")
def finetune_export(
    niche: str = typer.Option(..., "--niche", help="Niche slug."),
    out: str = typer.Option(..., "--out", help="JSONL file to write (chat format, one article per line)."),
    tenant: str = TenantOption,
    top: int = typer.Option(100, "--top", help="At most this many articles (best earning, then best scoring)."),
    min_quality: float = typer.Option(80.0, "--min-quality", help="Quality score an article must reach."),
    models_file: str = ModelsFileOption,
    as_json: bool = JsonOption,
) -> None:
    """Export a niche's best articles (never stand-in output) with their prompts as fine-tuning JSONL."""
    from allixios.ai.catalogue import load_catalogue
    from allixios.ai.finetune import export_dataset
    from allixios.errors import ValidationError
    from allixios.tenants import list_niches

    if top < 1:
        raise ValidationError(f"--top {top} is not positive", fix="use --top 1 or more")
    with connect() as conn:
        t = get_tenant(conn, tenant)
        found = next((n for n in list_niches(conn, t, active_only=False) if n.slug == niche), None)
        if found is None:
            raise ValidationError(f"niche {niche!r} is not a niche of {t.slug}", fix="see `allixios niches list`")
        summary = export_dataset(conn, load_catalogue(models_file), t.id, found.id, found.name, out, top=top,
                                 min_quality=min_quality)
    if as_json:
        print_json(summary.__dict__)
        return
    typer.echo(f"exported {summary.exported} article(s) of {t.slug}/{niche} to {summary.path}"
               + "".join(f"; {n} excluded: {why}" for why, n in summary.excluded.items()))
