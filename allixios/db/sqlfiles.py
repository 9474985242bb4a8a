"""SQL kept as files next to the code that owns it."""

from __future__ import annotations

from importlib import resources


def read_sql(name: str) -> str:
    return resources.files("allixios.db").joinpath("sql", name).read_text()


def sql_revision(part: str):
    """``(upgrade, downgrade)`` for an Alembic revision that runs ``<part>.sql`` / ``<part>.down.sql``.

    ``read_sql`` is looked up when the step runs, so a test can swap it to make a migration fail."""

    def upgrade() -> None:
        from alembic import op

        op.execute(read_sql(f"{part}.sql"))

    def downgrade() -> None:
        from alembic import op

        op.execute(read_sql(f"{part}.down.sql"))

    return upgrade, downgrade
