"""Real text: scoring document model and conformance (issue 16).

Revision ID: 0014
Revises: 0013
"""

from allixios.db.sqlfiles import sql_revision

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("018_text")
