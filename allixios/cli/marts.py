"""`allixios marts build`: run the dbt project against Allixios' database (outside Dagster)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import typer

app = typer.Typer(help="The dbt marts (staging -> intermediate -> marts).", no_args_is_help=True)


@app.command("build")
def build(
    start: str = typer.Option(None, "--start", help="First day of the window to recompute (default: all days)."),
    end: str = typer.Option(None, "--end", help="Last day of the window (default: --start, or all days)."),
    select: str = typer.Option(None, "--select", "-s", help="dbt selection, e.g. +mart_content_health."),
) -> None:
    """`dbt build` (models and tests) for a window of days; the same build the analytics_job runs."""
    import json

    from allixios.cli.ingest import parse_day
    from allixios.errors import AllixiosError
    from resources.dbt import dbt_environment, dbt_executable, project_dir

    dbt_vars = {}
    if start:
        dbt_vars["start_date"] = parse_day(start, "--start").isoformat()
        dbt_vars["end_date"] = parse_day(end or start, "--end").isoformat()
    elif end:
        dbt_vars["end_date"] = parse_day(end, "--end").isoformat()
    # a target folder of its own: dbt_project/target/manifest.json stays the one `allixios prepare` built
    (project_dir() / "target").mkdir(exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="cli-build-", dir=project_dir() / "target"))
    args = [dbt_executable(), "build", "--project-dir", str(project_dir()), "--profiles-dir", str(project_dir()),
            "--target-path", str(target), "--log-path", str(target)]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    if select:
        args += ["--select", select]
    done = subprocess.run(args, env=dbt_environment())
    if done.returncode != 0:
        raise AllixiosError(f"dbt build failed (see the dbt output above; artifacts in {target})",
                            fix="fix the failing model or test; the raw tables are untouched")
    shutil.rmtree(target, ignore_errors=True)
