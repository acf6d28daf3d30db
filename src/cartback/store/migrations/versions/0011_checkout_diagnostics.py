"""carts keep the checkout stage they reached and where their buyer came from; alerts record a
stage whose share of abandoned carts rose beyond its baseline

Revision ID: 0011_checkout_diagnostics
Revises: 0010_privacy_log
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cartback.store.types import UTCDateTime

revision = "0011_checkout_diagnostics"
down_revision = "0010_privacy_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checkout_stage", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("source_name", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("landing_site", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("referring_site", sa.Text(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_carts_store_id_abandoned_at"), ["store_id", "abandoned_at"], unique=False
        )
    op.create_table(
        "alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("raised_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("carts", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("z", sa.Float(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("store_id", "stage", "day", name=op.f("uq_alerts_store_id_stage_day")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alerts_store_id_raised_at"), ["store_id", "raised_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_store_id_raised_at"))
    op.drop_table("alerts")
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_carts_store_id_abandoned_at"))
        batch_op.drop_column("referring_site")
        batch_op.drop_column("landing_site")
        batch_op.drop_column("source_name")
        batch_op.drop_column("checkout_stage")
