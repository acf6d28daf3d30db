"""discount code pools, promotional touches from other systems

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 10:12:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cartback.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discount_codes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("imported_at", cartback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "used_by_cart_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("used_at", cartback.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", cartback.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["used_by_cart_id"], ["carts.id"], name=op.f("fk_discount_codes_used_by_cart_id_carts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discount_codes")),
        sa.UniqueConstraint("store_id", "code", name=op.f("uq_discount_codes_store_id_code")),
    )
    with op.batch_alter_table("discount_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_discount_codes_store_id_used_at"), ["store_id", "used_at"], unique=False
        )

    op.create_table(
        "touches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sent_at", cartback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", cartback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_touches")),
        sa.UniqueConstraint(
            "address",
            "channel",
            "sent_at",
            "source",
            name=op.f("uq_touches_address_channel_sent_at_source"),
        ),
    )
    with op.batch_alter_table("touches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_touches_address_sent_at"), ["address", "sent_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("touches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_touches_address_sent_at"))

    op.drop_table("touches")
    with op.batch_alter_table("discount_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_discount_codes_store_id_used_at"))

    op.drop_table("discount_codes")
