"""The `allixios` command: the single entry point for operators.

Each command group lives in its own module; errors the operator can act on print one line
(`error: ... — fix: ...`) and exit 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer

from allixios.errors import AllixiosError

# typer vendors its own click: usage errors are instances of its ClickException, not click's
_USAGE_ERRORS = (click.ClickException, typer._click.exceptions.ClickException)

app = typer.Typer(
    help="Allixios: AI content operations on Dagster. Run `allixios COMMAND --help` for details.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from allixios.cli import ai, analysts, articles, db, ingest, marts, niches, run, simulate, topics

    app.add_typer(db.app, name="db")
    app.add_typer(niches.app, name="niches")
    app.add_typer(topics.app, name="topics")
    app.add_typer(ai.app, name="ai")
    app.add_typer(articles.app, name="articles")
    app.add_typer(simulate.app, name="simulate")
    app.add_typer(ingest.app, name="ingest")
    app.add_typer(marts.app, name="marts")
    app.add_typer(analysts.app, name="analysts")
    app.command(name="run")(run.run)
    app.command(name="seed")(run.seed)
    app.command(name="prepare")(run.prepare)
    app.command(name="dev")(run.dev)
    app.add_typer(importlib.import_module("allixios.cli.runs").app, name="runs")


_register()


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except AllixiosError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
