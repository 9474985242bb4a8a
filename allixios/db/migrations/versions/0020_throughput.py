"""Generation throughput: batched ledger writes (issue 19).

Revision ID: 0020
Revises: 0019
"""

from allixios.db.sqlfiles import sql_revision

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("024_throughput")
