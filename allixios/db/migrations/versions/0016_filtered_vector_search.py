"""Filtered vector search goes through the HNSW index: the (tenant, niche) b-tree on embeddings is dropped (issue 19).

Revision ID: 0016
Revises: 0015
"""

from allixios.db.sqlfiles import sql_revision

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision("020_filtered_vector_search")
