"""Free slugs by an index range: a "C"-collated (tenant_id, slug) index on articles (issue 19).

Revision ID: 0021
Revises: 0020
"""

from allixios.db.sqlfiles import sql_revision

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("025_slug_prefix")
