"""Pools of single-use discount codes, for platforms where cartback cannot create codes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from cartback.domain.records import CodeImport
from cartback.store.sql.common import insert_ignoring_duplicates
from cartback.store.tables import discount_codes

_BATCH = 500


class SqlCodes:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def import_codes(
        self, store_id: str, codes: Sequence[str], now: datetime, expires_at: datetime | None
    ) -> CodeImport:
        unique = list(dict.fromkeys(codes))
        added = 0
        for start in range(0, len(unique), _BATCH):
            rows = [
                {"store_id": store_id, "code": code, "imported_at": now, "expires_at": expires_at}
                for code in unique[start : start + _BATCH]
            ]
            statement = insert_ignoring_duplicates(self.conn, discount_codes)
            added += len(self.conn.execute(statement.returning(discount_codes.c.id), rows).all())
        return CodeImport(added=added, duplicates=len(codes) - added)

    def claim(self, store_id: str, cart_id: int, now: datetime) -> str | None:
        """A cart that holds a live code gets it again (a retried step uses up no second one).
        PostgreSQL skips codes another transaction is claiming; SQLite holds its write lock."""
        held = self.conn.execute(
            select(discount_codes.c.code).where(
                discount_codes.c.store_id == store_id,
                discount_codes.c.used_by_cart_id == cart_id,
                _unexpired(now),
            )
        ).scalar()
        if held is not None:
            return str(held)
        free = (
            select(discount_codes.c.id)
            .where(
                discount_codes.c.store_id == store_id,
                discount_codes.c.used_at.is_(None),
                _unexpired(now),
            )
            .order_by(discount_codes.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        claimed = self.conn.execute(
            update(discount_codes)
            .where(discount_codes.c.id.in_(free.scalar_subquery()))
            .values(used_by_cart_id=cart_id, used_at=now)
            .returning(discount_codes.c.code)
        ).scalar()
        return None if claimed is None else str(claimed)

    def remaining(self, store_id: str, now: datetime) -> int:
        count = self.conn.execute(
            select(func.count())
            .select_from(discount_codes)
            .where(
                discount_codes.c.store_id == store_id,
                discount_codes.c.used_at.is_(None),
                _unexpired(now),
            )
        ).scalar_one()
        return int(count)


def _unexpired(now: datetime) -> Any:
    return or_(discount_codes.c.expires_at.is_(None), discount_codes.c.expires_at > now)
