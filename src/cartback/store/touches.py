"""Promotional messages that other systems sent, so the cooldown spans every campaign.

A shop's newsletter tool or SMS marketing platform exports what it sent (a CSV, or the API);
each send is a touch. Before cartback messages someone, the policy asks for their last touch.
Importing the same export twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, Insert, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite

from cartback.domain.records import Touch
from cartback.store.tables import touches

__all__ = ["Touch", "last_touch", "record_touches"]


def record_touches(conn: Connection, new: Iterable[Touch], now: datetime) -> int:
    """Store touches; the ones already stored are ignored. Returns how many were added."""
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
    for start in range(0, len(rows), 500):
        statement = _insert_ignoring_duplicates(conn, touches).returning(touches.c.id)
        added += len(conn.execute(statement, rows[start : start + 500]).all())
    return added


def last_touch(
    conn: Connection, address: str, channel: str | None, since: datetime
) -> datetime | None:
    """The latest touch of `address` at or after `since`, on `channel` (None: any channel)."""
    query = select(func.max(touches.c.sent_at)).where(
        touches.c.address == address, touches.c.sent_at >= since
    )
    if channel is not None:
        query = query.where(touches.c.channel == channel)
    return conn.execute(query).scalar()  # MAX() keeps the column's type: aware UTC


def _insert_ignoring_duplicates(conn: Connection, table: Table) -> Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
