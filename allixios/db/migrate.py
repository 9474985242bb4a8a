"""Schema migrations through Alembic, driven from code (no alembic.ini to keep in step)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

from allixios.db import server


def _config(url: URL) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["url"] = url.render_as_string(hide_password=False)
    return cfg


def upgrade(url: URL | None = None, revision: str = "head") -> None:
    url = url or server.app_url()
    server.ensure_database(url)
    command.upgrade(_config(url), revision)


def downgrade(url: URL | None = None, revision: str = "base") -> None:
    command.downgrade(_config(url or server.app_url()), revision)


def current_revision(url: URL | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool

    engine = create_engine(url or server.app_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest revision the code ships (what ``upgrade`` moves a database to)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(URL.create("postgresql"))).get_current_head()
