"""Locales and translations (issue 17).

Revision ID: 0012
Revises: 0011
"""

from allixios.db.sqlfiles import sql_revision

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("016_locales")
