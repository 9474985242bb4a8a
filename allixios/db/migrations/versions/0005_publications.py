"""Publications per article version and target, target configuration (issue 13, targets).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from allixios.db.sqlfiles import read_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PART = "009_publications"


def upgrade() -> None:
    op.execute(read_sql(f"{PART}.sql"))


def downgrade() -> None:
    op.execute(read_sql(f"{PART}.down.sql"))
