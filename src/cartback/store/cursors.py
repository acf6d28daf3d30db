"""Named cursors of pollers (e.g. `magento:<store>:carts`): how far a poll got, and its backoff."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from cartback.store.tables import cursors, deliveries


@dataclass(frozen=True, slots=True)
class Cursor:
    name: str
    value: str
    updated_at: datetime
    failures: int
    retry_at: datetime | None


def get(conn: Connection, name: str) -> Cursor | None:
    row = conn.execute(select(cursors).where(cursors.c.name == name)).first()
    if row is None:
        return None
    return Cursor(row.name, row.value, row.updated_at, row.failures, row.retry_at)


def save(conn: Connection, name: str, value: str, now: datetime) -> None:
    """Set the cursor's value; failures and backoff are left as they are."""
    _upsert(conn, name, {"value": value, "updated_at": now}, {"failures": 0})


def record_failure(conn: Connection, name: str, now: datetime, retry_at: datetime) -> int:
    """Count one more failure and hold the poll until `retry_at`; return the failure count."""
    current = get(conn, name)
    failures = (current.failures if current is not None else 0) + 1
    values = {"failures": failures, "retry_at": retry_at, "updated_at": now}
    _upsert(conn, name, values, {"value": ""})
    return failures


def clear_failures(conn: Connection, name: str, now: datetime) -> None:
    conn.execute(
        update(cursors)
        .where(cursors.c.name == name)
        .values(failures=0, retry_at=None, updated_at=now)
    )


def _upsert(
    conn: Connection, name: str, values: dict[str, object], defaults: dict[str, object]
) -> None:
    changed = conn.execute(update(cursors).where(cursors.c.name == name).values(**values))
    if changed.rowcount:
        return
    try:
        with conn.begin_nested():
            conn.execute(cursors.insert().values(name=name, **{**defaults, **values}))
    except IntegrityError:  # another process created it meanwhile
        conn.execute(update(cursors).where(cursors.c.name == name).values(**values))


def processed_keys(
    conn: Connection, platform: str, store_id: str, keys: Collection[str]
) -> set[str]:
    """Which of these delivery keys are already stored and processed (to skip refetching)."""
    if not keys:
        return set()
    rows = conn.execute(
        select(deliveries.c.delivery_key).where(
            deliveries.c.platform == platform,
            deliveries.c.store_id == store_id,
            deliveries.c.delivery_key.in_(list(keys)),
            deliveries.c.status == "processed",
        )
    )
    return {row.delivery_key for row in rows}
