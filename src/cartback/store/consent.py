"""The consent ledger and the suppression list. The latest ledger entry for an address wins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from cartback.store.tables import consent_ledger, suppressions
from cartback.store.types import AnyRow

STOP_REPLY = "stop-reply"


def latest(conn: Connection, store_id: str, channel: str, address: str) -> AnyRow | None:
    return conn.execute(
        select(consent_ledger)
        .where(
            consent_ledger.c.store_id == store_id,
            consent_ledger.c.channel == channel,
            consent_ledger.c.address == address,
        )
        .order_by(consent_ledger.c.occurred_at.desc(), consent_ledger.c.id.desc())
        .limit(1)
    ).first()


def granted(conn: Connection, store_id: str, channel: str, address: str) -> bool:
    row = latest(conn, store_id, channel, address)
    return bool(row is not None and row.granted)


def record(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(consent_ledger).values(**values))


def record_once(conn: Connection, values: dict[str, Any]) -> bool:
    """Record unless the same answer from the same source at the same time is there (a file
    imported twice adds nothing). True when recorded."""
    keys = ("store_id", "channel", "address", "granted", "source", "occurred_at")
    found = conn.execute(
        select(consent_ledger.c.id)
        .where(*(consent_ledger.c[key] == values[key] for key in keys))
        .limit(1)
    ).first()
    if found is not None:
        return False
    record(conn, values)
    return True


def history(conn: Connection, store_id: str, addresses: Sequence[str]) -> Sequence[AnyRow]:
    return conn.execute(
        select(consent_ledger)
        .where(consent_ledger.c.store_id == store_id, consent_ledger.c.address.in_(addresses))
        .order_by(consent_ledger.c.occurred_at, consent_ledger.c.id)
    ).all()


def is_suppressed(conn: Connection, channel: str, address: str) -> bool:
    found = conn.execute(
        select(suppressions.c.id).where(
            suppressions.c.channel == channel, suppressions.c.address == address
        )
    ).first()
    return found is not None


def suppress(
    conn: Connection, channel: str, address: str, reason: str, source: str, at: datetime
) -> None:
    if is_suppressed(conn, channel, address):
        return
    try:
        with conn.begin_nested():
            conn.execute(
                insert(suppressions).values(
                    channel=channel, address=address, reason=reason, source=source, created_at=at
                )
            )
    except IntegrityError:
        pass  # suppressed concurrently: the outcome is the same


def unsuppress(conn: Connection, channel: str, address: str) -> None:
    conn.execute(
        delete(suppressions).where(
            suppressions.c.channel == channel, suppressions.c.address == address
        )
    )


def replied_stop(conn: Connection, phone: str) -> bool:
    """A STOP reply from this number: it ends marketing to that person on every channel."""
    found = conn.execute(
        select(suppressions.c.id).where(
            suppressions.c.channel == "sms",
            suppressions.c.address == phone,
            suppressions.c.reason == STOP_REPLY,
        )
    ).first()
    return found is not None
