"""indexes that keep the report's cost to the period it covers: decisions by time, orders by
cart, and the runs of assigned carts (a partial index)

Revision ID: 0015_flat_cost_indexes
Revises: 0014_delivery_queue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_flat_cost_indexes"
down_revision = "0014_delivery_queue"
branch_labels = None
depends_on = None

_ASSIGNED = sa.text("holdout IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_decisions_at", "decisions", ["at"])
    op.create_index("ix_orders_cart_id", "orders", ["cart_id"])
    op.create_index(
        "ix_runs_assigned",
        "runs",
        ["cart_id"],
        postgresql_where=_ASSIGNED,
        sqlite_where=_ASSIGNED,
    )


def downgrade() -> None:
    op.drop_index("ix_runs_assigned", table_name="runs")
    op.drop_index("ix_orders_cart_id", table_name="orders")
    op.drop_index("ix_decisions_at", table_name="decisions")
