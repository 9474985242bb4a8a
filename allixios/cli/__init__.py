"""The `allixios` command: the single entry point for operators.

Each command group lives in its own module; errors the operator can act on print one line
(`error: ... — fix: ...`) and exit 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer
from typer._click.utils import make_default_short_help
from typer.core import TyperGroup

from allixios.errors import AllixiosError

# typer vendors its own click: usage errors are instances of its ClickException, not click's
_USAGE_ERRORS = (click.ClickException, typer._click.exceptions.ClickException)
_NO_ARGS = typer._click.exceptions.NoArgsIsHelpError


class _LazyGroup(TyperGroup):
    """The top-level group: a command's module is imported only when that command runs.

    `allixios --help` lists the commands from ``_LAZY`` (name -> target, one-line help) without
    importing them, so it stays instant: no database driver, Dagster, dbt or LLM library loads
    until a command needs it. Help is plain text (no Rich boxes or type tags such as `<bool>`).
    """

    def list_commands(self, ctx):
        eager = super().list_commands(ctx)
        return [*eager, *(name for name in _LAZY if name not in eager)]

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands and cmd_name in _LAZY:
            self.commands[cmd_name] = _load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx, formatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None and loaded.hidden:
                continue
            short = loaded.get_short_help_str(limit) if loaded is not None else make_default_short_help(_LAZY[name][1], limit)
            rows.append((name, short))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


app = typer.Typer(
    cls=_LazyGroup,
    help="Allixios: AI content operations on Dagster. Run `allixios COMMAND --help` for details.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)



@app.callback()
def _root() -> None:
    # a callback makes `app` a group even before any command is loaded
    pass


# command -> ("module:attribute", the one-line help `allixios --help` shows). The attribute is a
# Typer app (a command group) or a function (a single command). A test keeps the help lines equal
# to the commands' own.
_LAZY: dict[str, tuple[str, str]] = {}


def _lazy(name: str, target: str, help_line: str) -> None:
    _LAZY[name] = (target, help_line)


def _plain(instance: typer.Typer) -> typer.Typer:
    """Plain-text help for a group and its sub-groups (Rich help shows a type tag on every flag)."""
    instance.rich_markup_mode = None
    for group in instance.registered_groups:
        if group.typer_instance is not None:
            _plain(group.typer_instance)
    return instance


def _load(name: str):
    """The click command for ``name``, built exactly as ``app.add_typer`` / ``app.command`` would."""

    module_name, attribute = _LAZY[name][0].split(":")
    target = getattr(importlib.import_module(module_name), attribute)
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
    holder.callback()(_root)
    if isinstance(target, typer.Typer):
        holder.add_typer(_plain(target), name=name)
    else:
        holder.command(name=name)(target)
    return typer.main.get_command(holder).commands[name]


def _register() -> None:
    _lazy("run", "allixios.cli.run:run",
          "Seed, then materialize the main job (content graph + analytics) for today on a real Dagster instance.")
    _lazy("seed", "allixios.cli.run:seed",
          "Migrate the schema and create the sample tenant with niches and a topic backlog (idempotent).")
    _lazy("prepare", "allixios.cli.run:prepare",
          "Set-up (run by `make install`): database migrated, folders created, Dagster home written, dbt manifest built.")
    _lazy("dev", "allixios.cli.run:dev",
          "Serve the Dagster UI and daemon (`dg dev`), the Allixios API and the tenant site on 127.0.0.1, supervised together.")
    _lazy("db", "allixios.cli.db:app", "Start, stop and migrate the database.")
    _lazy("niches", "allixios.cli.niches:app", "Add, list and remove niches.")
    _lazy("topics", "allixios.cli.topics:app", "Add and list backlog topics.")
    _lazy("ai", "allixios.cli.ai:app", "Models, usage and budgets of the AI layer.")
    _lazy("articles", "allixios.cli.articles:app", "Find, read, edit, lock, revert, delete and restore articles.")
    _lazy("simulate", "allixios.cli.simulate:app", "Offline stand-ins for real feeds: simulated traffic.")
    _lazy("ingest", "allixios.cli.ingest:app", "Load landed event files into the raw tables.")
    _lazy("marts", "allixios.cli.marts:app", "The dbt marts (staging -> intermediate -> marts).")
    _lazy("analysts", "allixios.cli.analysts:app", "Analyst logins that read one tenant's marts (Row-Level Security).")
    _lazy("site", "allixios.cli.site:app", "Build, serve, inspect and roll back the tenant's static site.")
    _lazy("targets", "allixios.cli.targets:app", "Publishing targets of a tenant: WordPress sites and CDN purge APIs.")
    _lazy("serve", "allixios.cli.api:serve",
          "Serve the Allixios API (OpenAPI at /openapi.json, docs at /docs, routes under /v1).")
    _lazy("users", "allixios.cli.api:users_app", "Users of a tenant and their roles (e-mail and name are stored encrypted).")
    _lazy("collector", "allixios.cli.collector:app", "The first-party beacon's collector: site key, origins, landing.")
    _lazy("keys", "allixios.cli.api:keys_app", "API keys (shown once, stored as a hash) and token signing keys.")
    _lazy("security", "allixios.cli.security:app", "Security scans: vulnerable pinned dependencies, committed secrets.")
    _lazy("runs", "allixios.cli.runs:app", "Dagster runs: recover runs whose process is gone.")
    _lazy("links", "allixios.cli.links:app", "Internal-link suggestions: list, accept (a new version), apply automatically.")
    _lazy("competitors", "allixios.cli.competitors:app",
          "Competitors per niche: configure their sitemaps, fetch them (robots.txt, rate limit, cache), find the content gaps.")
    _lazy("locales", "allixios.cli.locales:app", "Locales of a tenant, its translation glossary and the translations' status.")
    _lazy("authors", "allixios.cli.catalog:authors_app", "Author personas per niche: shown as bylines, author pages and JSON-LD.")
    _lazy("tenants", "allixios.cli.tenants:app", "A tenant's plan, limits and feature flags.")
    _lazy("categories", "allixios.cli.catalog:categories_app",
          "Categories per niche: shown as category links, pages and JSON-LD articleSection.")


_register()


def main(argv: list[str] | None = None) -> int:
    try:
        # outside standalone mode click returns a command's `typer.Exit(code)` instead of exiting
        code = app(args=argv, prog_name="allixios", standalone_mode=False)
    except AllixiosError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 2
    except _NO_ARGS as exc:  # a group without a command: its help, as click prints it
        print(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        return 2
    except _USAGE_ERRORS as exc:  # bad arguments: one line naming the command's --help
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "allixios"
        message = " ".join(exc.format_message().split())
        if not message:  # no arguments: the help text was printed already
            return exc.exit_code
        print(f"error: {message} — fix: see `{where} --help`", file=sys.stderr)
        return 2
    except Exception as exc:
        from allixios.errors import explain_database_error

        explained = explain_database_error(exc)
        if explained is None:
            raise
        print(f"error: {explained.one_line()}", file=sys.stderr)
        return 2
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 1
    except SystemExit as exc:  # typer/click exits for --help and usage errors
        return int(exc.code or 0)
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
