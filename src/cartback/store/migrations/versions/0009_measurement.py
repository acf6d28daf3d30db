"""experiments and holdout: a run keeps its assignment, a message its variant; clicks keep the
bot verdict; email opens are kept; an auto_winner experiment keeps its winner

Revision ID: 0009_measurement
Revises: 0006_order_money
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cartback.store.types import UTCDateTime

revision = "0009_measurement"
down_revision = "0006_order_money"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holdout", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("arms", sa.JSON(), nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("experiment_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("arm", sa.String(length=64), nullable=True))
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bot", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("bot_reason", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("agent_class", sa.String(length=16), nullable=True))
    op.create_table(
        "opens",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("cart_id", BigId, nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("bot", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("bot_reason", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_opens_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opens")),
    )
    op.create_index(op.f("ix_opens_message_id"), "opens", ["message_id"], unique=False)
    op.create_table(
        "experiment_winners",
        sa.Column("experiment_id", sa.String(length=64), nullable=False),
        sa.Column("arm", sa.String(length=64), nullable=False),
        sa.Column("called_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", name=op.f("pk_experiment_winners")),
    )


def downgrade() -> None:
    op.drop_table("experiment_winners")
    op.drop_index(op.f("ix_opens_message_id"), table_name="opens")
    op.drop_table("opens")
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.drop_column("agent_class")
        batch_op.drop_column("bot_reason")
        batch_op.drop_column("bot")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("arm")
        batch_op.drop_column("experiment_id")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("arms")
        batch_op.drop_column("holdout")
