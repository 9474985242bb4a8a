"""Run records: memory, output, root cause, workflow state and time-outs (issue 18).

Revision ID: 0018
Revises: 0017
"""

from allixios.db.sqlfiles import sql_revision

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("022_run_records")
