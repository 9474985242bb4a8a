"""Ingest integrity: tenant-bound event keys, per-file accounting (issue 11, ingest).

Revision ID: 0002
Revises: 0001
"""

from allixios.db.sqlfiles import sql_revision

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("006_ingest_integrity")
