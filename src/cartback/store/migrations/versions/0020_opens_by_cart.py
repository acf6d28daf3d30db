"""index of opens by cart: the report reads a period's opens as one range of cart ids, as it
reads the period's runs, messages, orders and clicks

Revision ID: 0020_opens_by_cart
Revises: 0019_failed_deliveries
"""

from __future__ import annotations

from alembic import op

revision = "0020_opens_by_cart"
down_revision = "0019_failed_deliveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_opens_cart_id_at", "opens", ["cart_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_opens_cart_id_at", table_name="opens")
