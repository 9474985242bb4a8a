"""API: users and roles, API keys, signing keys, rate limits, idempotency (issue 14).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from allixios.db.sqlfiles import read_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PART = "010_api"


def upgrade() -> None:
    op.execute(read_sql(f"{PART}.sql"))


def downgrade() -> None:
    op.execute(read_sql(f"{PART}.down.sql"))
