"""Search Console, GA4, Plausible, affiliate and ad revenue imports (issue 15).

Revision ID: 0008
Revises: 0007
"""

from allixios.db.sqlfiles import sql_revision

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("012_imports")
