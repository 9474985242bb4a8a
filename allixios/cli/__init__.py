"""The `allixios` command: the single entry point for operators.

Each command group lives in its own module; errors the operator can act on print one line
(`error: ... — fix: ...`) and exit 2, never a traceback.
"""

from __future__ import annotations

import sys

import click
import typer

from allixios.errors import AllixiosError

app = typer.Typer(
    help="Allixios: AI content operations on Dagster. Run `allixios COMMAND --help` for details.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from allixios.cli import ai, articles, db, ingest, niches, run, simulate, topics

    app.add_typer(db.app, name="db")
    app.add_typer(niches.app, name="niches")
    app.add_typer(topics.app, name="topics")
    app.add_typer(ai.app, name="ai")
    app.add_typer(articles.app, name="articles")
    app.add_typer(simulate.app, name="simulate")
    app.add_typer(ingest.app, name="ingest")
    app.command(name="run")(run.run)
    app.command(name="seed")(run.seed)
    app.command(name="prepare")(run.prepare)
    app.command(name="dev")(run.dev)


_register()


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except AllixiosError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
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
    except click.ClickException as exc:  # usage errors
        exc.show()
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
