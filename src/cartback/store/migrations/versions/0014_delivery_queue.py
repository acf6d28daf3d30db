"""deliveries are applied after the webhook is answered: the order they are applied in
(`sequence_key`), a lease for the worker that claimed one, and the queue's partial indexes

Revision ID: 0014_delivery_queue
Revises: 0013_secrets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cartback.store.types

revision = "0014_delivery_queue"
down_revision = "0013_secrets"
branch_labels = None
depends_on = None

_RECEIVED = sa.text("status = 'received'")


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence_key", sa.String(length=320), nullable=True))
        batch_op.add_column(
            sa.Column("claimed_until", cartback.store.types.UTCDateTime(), nullable=True)
        )
    op.create_index(
        "ix_deliveries_to_apply",
        "deliveries",
        ["id"],
        postgresql_where=_RECEIVED,
        sqlite_where=_RECEIVED,
    )
    op.create_index(
        "ix_deliveries_sequence",
        "deliveries",
        ["sequence_key", "id"],
        postgresql_where=_RECEIVED,
        sqlite_where=_RECEIVED,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_sequence", table_name="deliveries")
    op.drop_index("ix_deliveries_to_apply", table_name="deliveries")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("sequence_key")
