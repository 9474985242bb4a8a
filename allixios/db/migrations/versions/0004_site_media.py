"""Site and media: releases, rendered pages, media library (issue 13, site).

Revision ID: 0004
Revises: 0003
"""

from allixios.db.sqlfiles import sql_revision

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("008_site_media")
