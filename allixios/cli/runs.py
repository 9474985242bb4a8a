"""`allixios runs`: operate Dagster runs from the terminal (recover runs whose process is gone)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Dagster runs: recover runs whose process is gone.", no_args_is_help=True)


@app.command()
def recover() -> None:
    """Fail runs whose worker process is gone, free the pool slots they held, update workflow_executions."""
    from allixios_assets.instance import get_instance
    from allixios_assets.recovery import recover as recover_runs

    result = recover_runs(get_instance())
    for r in result.failed_runs:
        typer.echo(f"failed run {r['run_id']} ({r['job']}): {r['reason']}")
    for run_id in result.freed_slots:
        typer.echo(f"freed the pool slots of finished run {run_id}")
    typer.echo(f"checked {result.checked} in-flight run(s): {len(result.failed_runs)} had no live worker; "
               f"freed the slots of {len(result.freed_slots)} finished run(s)")
