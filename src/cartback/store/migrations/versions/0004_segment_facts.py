"""customer facts on carts for segments; the discount code a message carried

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cartback.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_orders_count", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "customer_total_spent",
                cartback.store.types.Amount(precision=18, scale=4),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("customer_tags", sa.JSON(), nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("discount_code", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("discount_code")
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.drop_column("customer_tags")
        batch_op.drop_column("customer_total_spent")
        batch_op.drop_column("customer_orders_count")
