"""Stand-in markers and the judge (issue 16).

Revision ID: 0015
Revises: 0014
"""

from allixios.db.sqlfiles import sql_revision

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("019_standins")
