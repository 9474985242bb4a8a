"""Ingest integrity: tenant-bound event keys, per-file accounting (issue 11, ingest).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from allixios.db.sqlfiles import read_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PART = "006_ingest_integrity"


def upgrade() -> None:
    op.execute(read_sql(f"{PART}.sql"))


def downgrade() -> None:
    op.execute(read_sql(f"{PART}.down.sql"))
