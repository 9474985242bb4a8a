"""`allixios security`: the dependency audit and the secret scan from the terminal (and CI)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Security scans: vulnerable pinned dependencies, committed secrets.", no_args_is_help=True)


@app.command()
def audit(requirements: Path = typer.Option(Path("constraints.txt"), help="Pinned requirements file to audit."),
          osv_db: Path = typer.Option(None, "--osv-db", envvar="ALLIXIOS_OSV_DB",
                                      help="Offline: OSV's PyPI all.zip (or a folder of OSV JSON) to audit against.")) -> None:
    """pip-audit of the pinned versions. Exit 1: vulnerable pins; 3: the vulnerability data was unreachable."""
    from allixios import settings
    from allixios.automation.security import audit_dependencies

    path = requirements if requirements.is_absolute() else settings.project_root() / requirements
    if not path.is_file():
        typer.echo(f"error: {path} does not exist — fix: pass --requirements with a pinned requirements file", err=True)
        raise typer.Exit(2)
    result = audit_dependencies(path, osv_db=osv_db)
    for v in result.vulnerable:
        fix = ", ".join(v["fix_versions"]) or "none yet"
        typer.echo(f"vulnerable: {v['name']} {v['version']}: {v['id']} (fixed in {fix})")
    if not result.reachable:
        reason = result.error or result.not_audited[0]["reason"]
        typer.echo(f"error: no vulnerability data could be fetched ({reason}) — fix: let this machine reach "
                   "pypi.org's JSON API, or pass --osv-db with a copy of OSV's PyPI export, and run it again", err=True)
        raise typer.Exit(3)
    typer.echo(f"audited {result.audited} pinned package(s): {len(result.vulnerable)} known vulnerabilit(y/ies); "
               f"{len(result.not_audited)} not audited")
    if result.vulnerable:
        raise typer.Exit(1)


@app.command()
def secrets() -> None:
    """Scan the committed files and the landing folders for secrets. Exit 1 when any is found."""
    from allixios.automation.security import scan_secrets

    found = scan_secrets()
    for f in found:
        typer.echo(f"secret: {f['path']}:{f['line']}: {f['kind']} (fingerprint {f['fingerprint']})")
    typer.echo(f"{len(found)} secret(s) found")
    if found:
        raise typer.Exit(1)
