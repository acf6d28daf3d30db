"""retention finds what it still has to purge through partial indexes, so a daily purge costs
what is left to purge, not every message and click ever stored

Revision ID: 0012_retention_indexes
Revises: 0011_checkout_diagnostics
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_retention_indexes"
down_revision = "0011_checkout_diagnostics"
branch_labels = None
depends_on = None

_UNPURGED_MESSAGE = sa.text("recipient <> '[erased]'")  # domain.privacy.ERASED
_UNPURGED_CLICK = sa.text("user_agent IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_messages_unpurged",
        "messages",
        ["created_at"],
        postgresql_where=_UNPURGED_MESSAGE,
        sqlite_where=_UNPURGED_MESSAGE,
    )
    op.create_index(
        "ix_clicks_unpurged",
        "clicks",
        ["at"],
        postgresql_where=_UNPURGED_CLICK,
        sqlite_where=_UNPURGED_CLICK,
    )


def downgrade() -> None:
    op.drop_index("ix_clicks_unpurged", table_name="clicks")
    op.drop_index("ix_messages_unpurged", table_name="messages")
