"""PostgreSQL: raw webhook bodies compressed with lz4 where the server has it

Every webhook stores its body (several kilobytes of JSON), which PostgreSQL compresses; its
default method (pglz) costs the database several times the CPU of lz4, on the machine that also
answers the webhooks. A server built without lz4 keeps pglz. New rows only; SQLite: nothing.

Revision ID: 0017_delivery_body_lz4
Revises: 0016_report_paths
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

revision = "0017_delivery_body_lz4"
down_revision = "0016_report_paths"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _compress_bodies_with("lz4")


def downgrade() -> None:
    _compress_bodies_with("pglz")


def _compress_bodies_with(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():  # a server without lz4 refuses it; the migration goes on
            bind.execute(text(f"ALTER TABLE deliveries ALTER COLUMN body SET COMPRESSION {method}"))
    except DBAPIError:
        pass
