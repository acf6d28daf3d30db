"""Promotional messages other systems sent (touches), so the cooldown spans every campaign."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, func, select

from cartback.domain.records import Touch
from cartback.store.sql.common import insert_ignoring_duplicates
from cartback.store.tables import touches

_BATCH = 500


# Asked before every send: built once, the values as parameters.
_LAST = select(func.max(touches.c.sent_at)).where(
    touches.c.address == bindparam("address"), touches.c.sent_at >= bindparam("since")
)
_LAST_ON = _LAST.where(touches.c.channel == bindparam("channel"))


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
        values = {"address": address, "since": since}
        if channel is None:
            latest: datetime | None = self.conn.execute(_LAST, values).scalar()
        else:  # MAX keeps aware UTC
            latest = self.conn.execute(_LAST_ON, values | {"channel": channel}).scalar()
        return latest
