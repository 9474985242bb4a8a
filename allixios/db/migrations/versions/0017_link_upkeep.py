"""Applied internal-link suggestions and the competitor fetch cache (issue 18).

Revision ID: 0017
Revises: 0016
"""

from allixios.db.sqlfiles import sql_revision

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("021_link_upkeep")
