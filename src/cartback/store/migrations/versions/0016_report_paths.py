"""indexes that keep the report, the dashboard's activity and the lists to the rows they show:
clicks by message and by time, opens by time, carts by store and time of creation and of update

Revision ID: 0016_report_paths
Revises: 0015_flat_cost_indexes
"""

from __future__ import annotations

from alembic import op

revision = "0016_report_paths"
down_revision = "0015_flat_cost_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_clicks_message_id", "clicks", ["message_id"])
    op.create_index("ix_clicks_at", "clicks", ["at"])
    op.create_index("ix_opens_at", "opens", ["at"])
    op.create_index("ix_carts_store_id_created_at", "carts", ["store_id", "created_at"])
    op.create_index("ix_carts_store_id_updated_at", "carts", ["store_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_carts_store_id_updated_at", table_name="carts")
    op.drop_index("ix_carts_store_id_created_at", table_name="carts")
    op.drop_index("ix_opens_at", table_name="opens")
    op.drop_index("ix_clicks_at", table_name="clicks")
    op.drop_index("ix_clicks_message_id", table_name="clicks")
