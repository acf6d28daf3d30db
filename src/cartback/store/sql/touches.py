"""Promotional messages other systems sent (touches), so the cooldown spans every campaign."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, func, select

from cartback.domain.records import Touch
from cartback.store.sql.common import insert_ignoring_duplicates
from cartback.store.tables import touches

_BATCH = 500


class SqlTouches:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, new: Iterable[Touch], now: datetime) -> int:
        rows = [
            {
                "address": touch.address,
                "channel": touch.channel,
                "sent_at": touch.sent_at.astimezone(UTC),
                "source": touch.source,
                "recorded_at": now,
            }
            for touch in new
        ]
        added = 0
        for start in range(0, len(rows), _BATCH):
            statement = insert_ignoring_duplicates(self.conn, touches).returning(touches.c.id)
            added += len(self.conn.execute(statement, rows[start : start + _BATCH]).all())
        return added

    def last(self, address: str, channel: str | None, since: datetime) -> datetime | None:
        query = select(func.max(touches.c.sent_at)).where(
            touches.c.address == address, touches.c.sent_at >= since
        )
        if channel is not None:
            query = query.where(touches.c.channel == channel)
        latest: datetime | None = self.conn.execute(query).scalar()  # MAX keeps aware UTC
        return latest
