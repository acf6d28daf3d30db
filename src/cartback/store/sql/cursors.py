"""Named cursors of pollers (e.g. `magento:<store>:carts`): how far a poll got, and its backoff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from cartback.domain.records import Cursor
from cartback.store.tables import cursors


class SqlCursors:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, name: str) -> Cursor | None:
        row = self.conn.execute(select(cursors).where(cursors.c.name == name)).first()
        if row is None:
            return None
        return Cursor(row.name, row.value, row.updated_at, row.failures, row.retry_at)

    def save(self, name: str, value: str, now: datetime) -> None:
        """Set the value; failures and backoff stay as they are."""
        self._upsert(name, {"value": value, "updated_at": now}, {"failures": 0})

    def record_failure(self, name: str, now: datetime, retry_at: datetime) -> int:
        current = self.get(name)
        failures = (current.failures if current is not None else 0) + 1
        values = {"failures": failures, "retry_at": retry_at, "updated_at": now}
        self._upsert(name, values, {"value": ""})
        return failures

    def clear_failures(self, name: str, now: datetime) -> None:
        self.conn.execute(
            update(cursors)
            .where(cursors.c.name == name)
            .values(failures=0, retry_at=None, updated_at=now)
        )

    def _upsert(self, name: str, values: dict[str, object], defaults: dict[str, object]) -> None:
        changed = self.conn.execute(update(cursors).where(cursors.c.name == name).values(**values))
        if changed.rowcount:
            return
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(cursors).values(name=name, **{**defaults, **values}))
        except IntegrityError:  # another process created it meanwhile
            self.conn.execute(update(cursors).where(cursors.c.name == name).values(**values))
