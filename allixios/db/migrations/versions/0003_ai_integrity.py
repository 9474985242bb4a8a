"""AI ledger integrity: pending attempts, request claims, embedding budgets (issue 11, AI and security).

Revision ID: 0003
Revises: 0002
"""

from allixios.db.sqlfiles import sql_revision

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("007_ai_integrity")
