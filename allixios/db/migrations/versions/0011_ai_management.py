"""AI provider management: rate limits, switches, cost caps, learned routing (issue 17).

Revision ID: 0011
Revises: 0010
"""

from allixios.db.sqlfiles import sql_revision

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("015_ai_management")
