"""Reader marts, mart build tracking and the daily Parquet archive (issue 15).

Revision ID: 0009
Revises: 0008
"""

from allixios.db.sqlfiles import sql_revision

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("013_reader_marts")
