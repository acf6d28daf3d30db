"""orders keep their status, test flag and refunds; carts their store-currency value and the
field their phone came from

Revision ID: 0006_order_money
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cartback.store.types import Amount

revision = "0006_order_money"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="open", nullable=False)
        )
        batch_op.add_column(
            sa.Column("test", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("refunded", Amount(precision=18, scale=4), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("refunds", sa.JSON(), nullable=True))
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_source", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("store_currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("store_total", Amount(precision=18, scale=4), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.drop_column("store_total")
        batch_op.drop_column("store_currency")
        batch_op.drop_column("phone_source")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("refunds")
        batch_op.drop_column("refunded")
        batch_op.drop_column("test")
        batch_op.drop_column("status")
