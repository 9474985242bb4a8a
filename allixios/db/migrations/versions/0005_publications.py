"""Publications per article version and target, target configuration (issue 13, targets).

Revision ID: 0005
Revises: 0004
"""

from allixios.db.sqlfiles import sql_revision

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("009_publications")
