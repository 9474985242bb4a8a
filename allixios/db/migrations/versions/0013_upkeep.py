"""Forecasts, alerts, maintenance and upkeep (issue 18).

Revision ID: 0013
Revises: 0012
"""

from allixios.db.sqlfiles import sql_revision

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("017_upkeep")
