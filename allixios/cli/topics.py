"""`allixios topics`: the topic backlog."""

from __future__ import annotations

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json, print_table
from allixios.content.topics import TopicInput, add_topics
from allixios.db.engine import connect, fetch_dicts
from allixios.errors import NotFoundError
from allixios.tenants import get_tenant, list_niches

app = typer.Typer(help="Add and list backlog topics.", no_args_is_help=True)


def _niche(conn, tenant: str, niche: str):
    t = get_tenant(conn, tenant)
    for n in list_niches(conn, t):
        if n.slug == niche:
            return n
    raise NotFoundError(f"niche {niche!r} not found for tenant {tenant!r}", fix="see `allixios niches list`")


@app.command("add")
def add(
    title: str = typer.Argument(..., help="Topic title."),
    niche: str = typer.Option(..., "--niche", "-n", help="Niche slug."),
    keyphrase: str = typer.Option(None, "--keyphrase", help="Target keyphrase (defaults to the title's key words)."),
    keyword: list[str] = typer.Option([], "--keyword", "-k", help="Keyword (repeatable)."),
    priority: int = typer.Option(50, help="0-100; higher goes first."),
    tenant: str = TenantOption,
) -> None:
    """Add a topic to a niche's backlog (a title already in the niche is not added twice)."""
    with connect() as conn:
        n = _niche(conn, tenant, niche)
        ids = add_topics(conn, n, [TopicInput(title, tuple(keyword), keyphrase, priority)], source="cli")
    typer.echo(f"added topic {ids[0]}" if ids else "already in the backlog: nothing added")


@app.command("list")
def list_(
    niche: str = typer.Option(None, "--niche", "-n"),
    status: str = typer.Option(None, "--status", help="pending, selected, drafted, rejected, failed, deferred"),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """List backlog topics with status and any rejection or failure reason."""
    with connect() as conn:
        t = get_tenant(conn, tenant)
        rows = fetch_dicts(
            conn,
            """SELECT t.id, n.slug AS niche, t.title, t.target_keyphrase, t.priority, t.status,
                      coalesce(t.rejection_reason, t.failure_reason) AS reason
               FROM topics t JOIN niches n ON n.id = t.niche_id
               WHERE t.tenant_id = %s AND (%s::text IS NULL OR n.slug = %s)
                 AND (%s::text IS NULL OR t.status = %s)
               ORDER BY n.slug, t.priority DESC, t.requested_at""",
            (t.id, niche, niche, status, status),
        )
    print_json(rows) if as_json else print_table(rows, ["niche", "title", "priority", "status", "reason"])


@app.command("import")
def import_(
    path: str = typer.Argument(..., help="A CSV or JSON topic file (see README: topic files)."),
    tenant: str = TenantOption,
) -> None:
    """Load a topic file for one tenant now (the landing-folder intake's rules; once per file content).

    Every row belongs to --tenant: a row naming another tenant rejects the file."""
    from pathlib import Path

    from allixios.automation.intake import SUFFIXES, ingest_topic_file
    from allixios.errors import ValidationError

    file = Path(path)
    if not file.is_file() or file.suffix.lower() not in SUFFIXES:
        raise ValidationError(f"{path} is not a .csv or .json file", fix="pass the path of a topic file")
    with connect() as conn:
        outcome = ingest_topic_file(conn, file, tenant=tenant)
    if outcome.status == "rejected":
        raise ValidationError(f"{file.name} rejected: {outcome.error}")
    if outcome.status == "duplicate":
        typer.echo(f"{file.name} was loaded before (same content): nothing added")
        return
    typer.echo(f"{file.name}: {outcome.topics_added} topics added to {', '.join(outcome.partition_keys)}"
               + (f"; new niches {', '.join(outcome.new_niche_keys)}" if outcome.new_niche_keys else ""))
