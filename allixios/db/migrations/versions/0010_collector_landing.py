"""Collector landing in micro-batches (issue 15).

Revision ID: 0010
Revises: 0009
"""

from allixios.db.sqlfiles import sql_revision

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("014_collector_landing")
