"""Site and media: releases, rendered pages, media library (issue 13, site).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from allixios.db.sqlfiles import read_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PART = "008_site_media"


def upgrade() -> None:
    op.execute(read_sql(f"{PART}.sql"))


def downgrade() -> None:
    op.execute(read_sql(f"{PART}.down.sql"))
