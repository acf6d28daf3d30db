"""index of the decisions that sent nothing (skips, cancellations) by time: the report's count
of a period's skips reads those, not every decision of the period with them

Revision ID: 0021_skipped_decisions_by_time
Revises: 0020_opens_by_cart
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_skipped_decisions_by_time"
down_revision = "0020_opens_by_cart"
branch_labels = None
depends_on = None

_SKIPPED = sa.text("action IN ('cancel', 'skip')")


def upgrade() -> None:
    op.create_index(
        "ix_decisions_skipped_at",
        "decisions",
        ["at"],
        postgresql_where=_SKIPPED,
        sqlite_where=_SKIPPED,
    )


def downgrade() -> None:
    op.drop_index("ix_decisions_skipped_at", table_name="decisions")
