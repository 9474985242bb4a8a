"""The beacon's collector: site keys and origins, the daily salt, refusals, link clicks (issue 15).

Revision ID: 0007
Revises: 0006
"""

from allixios.db.sqlfiles import sql_revision

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("011_collector")
