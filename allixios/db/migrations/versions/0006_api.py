"""API: users and roles, API keys, signing keys, rate limits, idempotency (issue 14).

Revision ID: 0006
Revises: 0005
"""

from allixios.db.sqlfiles import sql_revision

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("010_api")
