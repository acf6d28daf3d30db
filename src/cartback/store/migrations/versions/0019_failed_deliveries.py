"""indexes of the failed deliveries, of all stores and by store: `/api/deliveries?status=failed`
(what an operator asks to see what to replay) reads a page of them, not every delivery since
the newest failure

Revision ID: 0019_failed_deliveries
Revises: 0018_deliveries_by_store
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_failed_deliveries"
down_revision = "0018_deliveries_by_store"
branch_labels = None
depends_on = None

_FAILED = sa.text("status = 'failed'")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_failed",
        "deliveries",
        ["id"],
        postgresql_where=_FAILED,
        sqlite_where=_FAILED,
    )
    op.create_index(
        "ix_deliveries_failed_by_store",
        "deliveries",
        ["store_id", "id"],
        postgresql_where=_FAILED,
        sqlite_where=_FAILED,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_failed_by_store", table_name="deliveries")
    op.drop_index("ix_deliveries_failed", table_name="deliveries")
