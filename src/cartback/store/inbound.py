"""Replies from recipients, kept once each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from cartback.channels.base import InboundMessage
from cartback.store.tables import carts, inbound_messages


def record(conn: Connection, message: InboundMessage, action: str, now: datetime) -> bool:
    """Store a reply; False when this gateway already gave us this one."""
    try:
        with conn.begin_nested():
            conn.execute(
                insert(inbound_messages).values(
                    provider=message.provider,
                    provider_id=message.provider_id,
                    sender=message.sender,
                    recipient=message.recipient,
                    text=message.text,
                    received_at=message.received_at,
                    recorded_at=now,
                    action=action,
                )
            )
    except IntegrityError:
        return False
    return True


def stores_knowing(conn: Connection, phone: str) -> list[str]:
    """The stores that have a cart with this phone number."""
    rows = conn.execute(select(carts.c.store_id).where(carts.c.phone == phone).distinct())
    return sorted(row.store_id for row in rows)
