"""`allixios articles`: content management for editors (search, history, edits, locks, delete/restore)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

import typer

from allixios.cli._common import JsonOption, TenantOption, print_json, print_table
from allixios.cli.dash_args import DashArgsCommand
from allixios.db.engine import connect
from allixios.editorial import articles as arts
from allixios.editorial import history, locks
from allixios.editorial.analysis import analyze_article
from allixios.editorial.search import SEARCH_MODES, embedder_label, search_articles
from allixios.errors import ValidationError
from allixios.tenants import get_tenant

app = typer.Typer(help="Find, read, edit, lock, revert, delete and restore articles.", no_args_is_help=True)

UserOption = typer.Option(
    None, "--user", "-u", help="Who makes the change (default: $ALLIXIOS_USER or the OS user)."
)
ExpectedVersionOption = typer.Option(
    None,
    "--expected-version",
    help="Refuse unless the article is still at this version (default: the version read at start).",
)


def _user(user: str | None) -> str:
    return (user or arts.default_actor()).strip()


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"--updated-since {text!r} is not a date", fix="use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _report_change(result: arts.ChangeResult, as_json: bool, slug: str, done: str, unchanged: str) -> None:
    if as_json:
        print_json(asdict(result))
    elif not result.changed:
        typer.echo(f"{slug}: {unchanged} (version {result.after_version})")
    elif result.before_version == result.after_version:
        typer.echo(f"{slug}: {done} (version {result.after_version})")
    else:
        typer.echo(f"{slug}: {done}: version {result.before_version} -> {result.after_version}")


@app.command("list")
def list_(
    niche: str = typer.Option(None, help="Niche slug."),
    status: str = typer.Option(None, help="draft, scored, needs_revision, published, archived or failed."),
    min_quality: int = typer.Option(None, "--min-quality"),
    max_quality: int = typer.Option(None, "--max-quality"),
    min_seo: int = typer.Option(None, "--min-seo"),
    max_seo: int = typer.Option(None, "--max-seo"),
    updated_since: str = typer.Option(None, "--updated-since", help="YYYY-MM-DD[THH:MM] (UTC when no zone)."),
    deleted: bool = typer.Option(False, "--deleted", help="Include soft-deleted articles."),
    limit: int = typer.Option(50, help="Rows at most."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """List articles, most recently changed first."""
    with connect() as conn:
        rows = arts.list_articles(
            conn,
            get_tenant(conn, tenant),
            niche=niche,
            status=status,
            min_quality=min_quality,
            max_quality=max_quality,
            min_seo=min_seo,
            max_seo=max_seo,
            updated_since=_since(updated_since),
            include_deleted=deleted,
            limit=limit,
        )
    if as_json:
        print_json(rows)
    else:
        print_table(
            rows,
            [
                "id",
                "slug",
                "niche",
                "status",
                "quality",
                "seo",
                "version",
                "published_version",
                "updated_at",
                "deleted",
            ],
        )


@app.command("show")
def show(
    article: str = typer.Argument(..., help="Article id or slug."),
    body: bool = typer.Option(False, "--body", help="Print the article's Markdown body (the live version if published)."),
    html: bool = typer.Option(False, "--html", help="Print the article's page as the site renders it."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Metadata, scores, failing assessments, current and published version, lock and recent changes."""
    if body or html:
        _show_text(article, tenant, html)
        return
    with connect() as conn:
        data = arts.show_article(conn, get_tenant(conn, tenant), article)
    if as_json:
        print_json(data)
        return
    skip = {"failing_assessments", "recent_changes", "optimization_suggestions", "lock", "workflow_state"}
    print_table([{"field": k, "value": v} for k, v in data.items() if k not in skip])
    state = data["workflow_state"]
    typer.echo(f"\nworkflow: stage {state['current_stage'] or '-'}; done: {', '.join(state['completed_stages']) or '-'}; "
               f"pending: {', '.join(state['pending_actions']) or 'nothing'}; last processed {state['last_processed_at'] or '-'}")
    lock = data["lock"]
    typer.echo(
        "\nlock: " + ("none" if lock is None else f"held by {lock['locked_by']} until {lock['expires_at']}")
    )
    typer.echo(f"\nfailing assessments ({len(data['failing_assessments'])} of {data['assessment_count']}):")
    print_table(data["failing_assessments"])
    typer.echo("\nrecent changes:")
    print_table(data["recent_changes"], ["created_at", "actor", "action", "before_version", "after_version"])


def _show_text(article: str, tenant: str, as_html: bool) -> None:
    """`show --body` / `show --html`: the live version when the article is published, else the current text."""
    import sys

    with connect() as conn:
        t = get_tenant(conn, tenant)
        ref = arts.resolve_article(conn, t, article)
        if as_html:
            from allixios.publishing.site import render_article_page

            text, warnings = render_article_page(conn, t, ref.id)
        else:
            number = ref.published_version_number if ref.status == "published" else None
            sql = ("SELECT content FROM article_versions WHERE article_id = %s AND version_number = %s" if number
                   else "SELECT content FROM articles WHERE id = %s")
            text = conn.execute(sql, (ref.id, number) if number else (ref.id,)).fetchone()[0] or ""
            warnings = [] if number else [f"not published: the current version {ref.version_number} is shown"]
    for w in warnings:
        print(f"note: {w}", file=sys.stderr)
    typer.echo(text, nl=not text.endswith("\n"))


@app.command("search", cls=DashArgsCommand)  # "-compost" is a query, not an option
def search(
    query: str = typer.Argument(..., help='Words, "quoted phrases", -excluded, or OR (web-search syntax).'),
    mode: str = typer.Option("hybrid", help=f"One of {', '.join(SEARCH_MODES)}."),
    niche: str = typer.Option(None, help="Niche slug."),
    status: str = typer.Option(None, help="Only articles with this status."),
    limit: int = typer.Option(10, help="Results at most (1-100)."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Hybrid search: full-text and semantic ranks fused by reciprocal rank fusion (k=60)."""
    with connect() as conn:
        hits = search_articles(
            conn, get_tenant(conn, tenant), query, mode=mode, niche=niche, status=status, limit=limit
        )  # type: ignore[arg-type]
    label = embedder_label() if mode != "text" else None
    if as_json:
        print_json([h.as_dict() for h in hits])
        return
    rows = [
        {"#": i, "slug": h.slug, "niche": h.niche, "status": h.status, "score": h.score, "why": h.reason}
        for i, h in enumerate(hits, 1)
    ]
    print_table(rows)
    for i, h in enumerate(hits, 1):
        typer.echo(f"  {i}. {h.headline}")
    if label:
        typer.echo(f"(semantic leg: {label})")


@app.command("history")
def history_(
    article: str = typer.Argument(..., help="Article id or slug."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Every stored version, oldest first (current and published marked)."""
    with connect() as conn:
        rows = history.list_versions(conn, get_tenant(conn, tenant), article)
    if as_json:
        print_json(rows)
    else:
        print_table(
            rows,
            [
                "version",
                "marks",
                "reason",
                "created_by",
                "created_at",
                "quality",
                "seo",
                "body_chars",
                "content_hash",
                "title",
            ],
        )


@app.command("diff")
def diff(
    article: str = typer.Argument(..., help="Article id or slug."),
    from_version: int = typer.Argument(..., help="Older version."),
    to_version: int = typer.Argument(..., help="Newer version."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Unified diff of the body and the changed fields between two versions."""
    with connect() as conn:
        result = history.diff_versions(conn, get_tenant(conn, tenant), article, from_version, to_version)
    if as_json:
        print_json(
            {
                "from_version": result.from_version,
                "to_version": result.to_version,
                "changed_fields": result.changed_fields,
                "body_diff": result.body_diff,
            }
        )
        return
    if result.identical:
        typer.echo(f"versions {from_version} and {to_version} are identical")
        return
    if result.changed_fields:
        print_table(result.changed_fields, ["field", "from", "to"])
    typer.echo(result.body_diff or "(body unchanged)", nl=not result.body_diff)


@app.command("revert")
def revert(
    article: str = typer.Argument(..., help="Article id or slug."),
    version: int = typer.Argument(..., help="The version to bring back."),
    user: str = UserOption,
    expected_version: int = ExpectedVersionOption,
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a new version equal to VERSION (history is never rewritten)."""
    with connect() as conn:
        t = get_tenant(conn, tenant)
        result = history.revert_article(
            conn, t, article, version, actor=_user(user), expected_version=expected_version
        )
    done, unchanged = f"reverted to version {version}", f"already equal to version {version}, nothing to do"
    _report_change(result, as_json, article, done, unchanged)


@app.command("edit")
def edit(
    article: str = typer.Argument(..., help="Article id or slug."),
    file: str = typer.Option(
        ...,
        "--file",
        "-f",
        help="Markdown file; optional YAML front matter for title, slug, meta fields, tags, keyphrase.",
    ),
    user: str = UserOption,
    expected_version: int = ExpectedVersionOption,
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Save an editor's change as a new version (reason 'edit'); refused if someone else holds the lock."""
    change = arts.read_edit_file(file)  # validate the file before touching the database
    with connect() as conn:
        result = arts.edit_article(
            conn,
            get_tenant(conn, tenant),
            article,
            change,
            actor=_user(user),
            expected_version=expected_version,
        )
    fields = ", ".join(result.details.get("changed_fields", []))
    _report_change(result, as_json, article, f"saved ({fields})", "no changes, nothing saved")


@app.command("lock")
def lock(
    article: str = typer.Argument(..., help="Article id or slug."),
    user: str = UserOption,
    ttl: str = typer.Option("30m", help="How long the lock lasts: 90s, 30m, 2h, 1d (max 7d)."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Lock an article for editing (or extend your own lock); regeneration and refresh skip it."""
    duration = locks.parse_ttl(ttl)
    with connect() as conn:
        t = get_tenant(conn, tenant)
        ref = arts.resolve_article(conn, t, article)
        held = locks.acquire_lock(conn, t.id, ref.id, _user(user), duration)
    if as_json:
        print_json(asdict(held))
    else:
        typer.echo(f"{ref.slug}: locked by {held.locked_by} until {held.expires_at:%Y-%m-%d %H:%M:%S %Z}")


@app.command("unlock")
def unlock(
    article: str = typer.Argument(..., help="Article id or slug."),
    user: str = UserOption,
    force: bool = typer.Option(False, "--force", help="Break another user's lock."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Release your lock (or another user's with --force)."""
    with connect() as conn:
        t = get_tenant(conn, tenant)
        ref = arts.resolve_article(conn, t, article)
        released = locks.release_lock(conn, t.id, ref.id, _user(user), force=force)
    if as_json:
        print_json(asdict(released))
    else:
        typer.echo(f"{ref.slug}: unlocked (was held by {released.locked_by})")


@app.command("delete")
def delete(
    article: str = typer.Argument(..., help="Article id or slug."),
    user: str = UserOption,
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Soft delete: the article leaves search, duplicate checks and sensors; history stays."""
    with connect() as conn:
        result = arts.delete_article(conn, get_tenant(conn, tenant), article, actor=_user(user))
    done = "deleted (restore with `allixios articles restore`)"
    _report_change(result, as_json, article, done, "already deleted")


@app.command("restore")
def restore(
    article: str = typer.Argument(..., help="Article id or slug."),
    user: str = UserOption,
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Undo a soft delete."""
    with connect() as conn:
        result = arts.restore_article(conn, get_tenant(conn, tenant), article, actor=_user(user))
    _report_change(result, as_json, article, "restored", "not deleted, nothing to do")


@app.command("analyze")
def analyze(
    article: str = typer.Argument(..., help="Article id or slug."),
    version: int = typer.Option(None, "--version", help="A stored version (default: the current text)."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """SEO and readability assessments with suggestions, for the current text or any stored version."""
    with connect() as conn:
        report = analyze_article(conn, get_tenant(conn, tenant), article, version)
    if as_json:
        print_json(report)
        return
    typer.echo(
        f"{report['slug']} version {report['version']}: quality {report['quality']}, SEO {report['seo']}"
    )
    print_table(report["assessments"])
    typer.echo("\nsuggestions:")
    print_table(report["suggestions"])


# ---- publish / unpublish (issue 13: editorial; what is live is decided here) --------------------


def _push_to_targets(article_id, tenant_slug: str, push: bool) -> None:
    """Deliver the change to the tenant's targets now; failures stay pending for the next run."""
    if not push:
        return
    from allixios.publishing.publications import run_targets

    with connect() as conn:
        t = get_tenant(conn, tenant_slug)
        report = run_targets(conn, tenant_id=t.id, article_ids=[article_id])
    for rep in report.targets.values():
        done = rep.published + rep.unchanged + rep.unpublished
        line = f"  target {rep.name}: " + ("ok" if done and not rep.failed else "pending")
        if rep.errors:
            line += f" ({rep.errors[-1]})"
        typer.echo(line)


PushOption = typer.Option(True, "--push/--no-push", help="Deliver to the tenant's targets now (default) or on the next run.")


@app.command("publish")
def publish(
    article: str = typer.Argument(..., help="Article id or slug."),
    user: str = UserOption,
    expected_version: int = ExpectedVersionOption,
    push: bool = PushOption,
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Make the latest version live (it must pass the tenant's bars); the site and targets show it next."""
    from allixios.editorial.publish import publish_article

    with connect() as conn:
        result = publish_article(conn, get_tenant(conn, tenant), article, actor=_user(user),
                                 expected_version=expected_version)
    if as_json:
        print_json(asdict(result))
    elif result.changed:
        typer.echo(f"{article}: version {result.after_version} is live")
    else:
        typer.echo(f"{article}: version {result.after_version} is already live, nothing to do")
    _push_to_targets(result.article_id, tenant, push and not as_json)


@app.command("unpublish")
def unpublish(
    article: str = typer.Argument(..., help="Article id or slug."),
    user: str = UserOption,
    push: bool = PushOption,
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Take the article down: the site answers 410 for it, WordPress posts go to draft (or trash)."""
    from allixios.editorial.publish import unpublish_article

    with connect() as conn:
        result = unpublish_article(conn, get_tenant(conn, tenant), article, actor=_user(user))
    if as_json:
        print_json(asdict(result))
    elif result.changed:
        typer.echo(f"{article}: unpublished (version {result.details.get('last_live_version')} was live)")
    else:
        typer.echo(f"{article}: not published, nothing to do")
    _push_to_targets(result.article_id, tenant, push and not as_json)
