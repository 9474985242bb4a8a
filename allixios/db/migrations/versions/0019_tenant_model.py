"""Authors, categories, social shares and tenant plans, limits and feature flags (issue 18).

Revision ID: 0019
Revises: 0018
"""

from allixios.db.sqlfiles import sql_revision

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("023_tenant_model")
