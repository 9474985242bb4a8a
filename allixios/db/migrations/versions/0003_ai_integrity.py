"""AI ledger integrity: pending attempts, request claims, embedding budgets (issue 11, AI and security).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from allixios.db.sqlfiles import read_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PART = "007_ai_integrity"


def upgrade() -> None:
    op.execute(read_sql(f"{PART}.sql"))


def downgrade() -> None:
    op.execute(read_sql(f"{PART}.down.sql"))
