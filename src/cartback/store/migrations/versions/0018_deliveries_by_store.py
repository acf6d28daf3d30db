"""an index of deliveries by store: a store's page of `/api/deliveries` (what a store's own
token asks) reads that store's rows, not every store's newest until enough of its own are found

Revision ID: 0018_deliveries_by_store
Revises: 0017_delivery_body_lz4
"""

from __future__ import annotations

from alembic import op

revision = "0018_deliveries_by_store"
down_revision = "0017_delivery_body_lz4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_store_id_id", "deliveries", ["store_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_store_id_id", table_name="deliveries")
