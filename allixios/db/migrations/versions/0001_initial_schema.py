"""Initial schema: tenants, content, AI ledger, raw analytics, automation state.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op

from allixios.db.sqlfiles import read_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PARTS = ("001_core", "002_content", "003_ai", "004_analytics", "005_automation")


def upgrade() -> None:
    for part in PARTS:
        op.execute(read_sql(f"{part}.sql"))


def downgrade() -> None:
    for part in reversed(PARTS):
        op.execute(read_sql(f"{part}.down.sql"))
