"""Operations from the UI (issue 12).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from allixios.db.sqlfiles import read_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PART = "011_operations"


def upgrade() -> None:
    op.execute(read_sql(f"{PART}.sql"))


def downgrade() -> None:
    op.execute(read_sql(f"{PART}.down.sql"))
