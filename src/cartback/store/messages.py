"""Messages, their short links and the clicks on them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from cartback.domain.attribution import Touch
from cartback.store.tables import clicks, links, message_attempts, messages
from cartback.store.types import AnyRow

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"
DELIVERED = "delivered"
OUT = (SENT, DELIVERED)


def for_step(conn: Connection, run_id: int, step_index: int) -> AnyRow | None:
    return conn.execute(
        select(messages).where(messages.c.run_id == run_id, messages.c.step_index == step_index)
    ).first()


def insert_message(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(messages).values(**values))


def insert_link(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(links).values(**values))


def set_status(conn: Connection, message_id: str, **values: Any) -> None:
    conn.execute(update(messages).where(messages.c.id == message_id).values(**values))


def link(conn: Connection, code: str) -> AnyRow | None:
    return conn.execute(select(links).where(links.c.code == code)).first()


def record_click(conn: Connection, row: AnyRow, at: datetime, user_agent: str | None) -> None:
    conn.execute(
        insert(clicks).values(
            code=row.code,
            message_id=row.message_id,
            cart_id=row.cart_id,
            at=at,
            user_agent=(user_agent or "")[:300] or None,
        )
    )


def touches(conn: Connection, cart_id: int) -> list[Touch]:
    """Every message that went out for a cart, with its latest click, for attribution."""
    last_click = (
        select(clicks.c.message_id, func.max(clicks.c.at).label("clicked_at"))
        .where(clicks.c.cart_id == cart_id)
        .group_by(clicks.c.message_id)
        .subquery()
    )
    rows = conn.execute(
        select(messages.c.id, messages.c.sent_at, last_click.c.clicked_at)
        .select_from(messages.outerjoin(last_click, last_click.c.message_id == messages.c.id))
        .where(messages.c.cart_id == cart_id, messages.c.status.in_(OUT))
    ).all()
    return [_touch(r) for r in rows if r.sent_at is not None]


def _touch(row: AnyRow) -> Touch:
    return Touch(row.id, row.sent_at, row.clicked_at)


def last_to_recipient(
    conn: Connection, recipient: str, *, exclude_run: int | None
) -> datetime | None:
    """When this address last got a message from any flow or store (queued ones count: they are
    on their way, and a racing worker must see them)."""
    query = select(func.max(messages.c.created_at)).where(
        messages.c.recipient == recipient, messages.c.status.in_((QUEUED, *OUT))
    )
    if exclude_run is not None:
        query = query.where(messages.c.run_id != exclude_run)
    value: datetime | None = conn.execute(query).scalar()
    return value


def for_cart(conn: Connection, cart_id: int) -> Sequence[AnyRow]:
    return conn.execute(
        select(messages).where(messages.c.cart_id == cart_id).order_by(messages.c.created_at)
    ).all()


def clicks_for_cart(conn: Connection, cart_id: int) -> Sequence[AnyRow]:
    return conn.execute(
        select(clicks).where(clicks.c.cart_id == cart_id).order_by(clicks.c.at)
    ).all()


def sent_for_run(conn: Connection, run_id: int) -> bool:
    """Whether the run has written any message (queued counts: it may be on its way)."""
    found = conn.execute(select(messages.c.id).where(messages.c.run_id == run_id).limit(1)).first()
    return found is not None


def get(conn: Connection, message_id: str) -> AnyRow | None:
    return conn.execute(select(messages).where(messages.c.id == message_id)).first()


def by_provider_id(conn: Connection, provider: str, provider_message_id: str) -> AnyRow | None:
    return conn.execute(
        select(messages).where(
            messages.c.provider == provider,
            messages.c.provider_message_id == provider_message_id,
        )
    ).first()


def record_attempt(conn: Connection, **values: Any) -> None:
    conn.execute(insert(message_attempts).values(**values))
    conn.execute(
        update(messages)
        .where(messages.c.id == values["message_id"])
        .values(attempts=messages.c.attempts + 1)
    )


def attempts_for(conn: Connection, message_id: str) -> Sequence[AnyRow]:
    return conn.execute(
        select(message_attempts)
        .where(message_attempts.c.message_id == message_id)
        .order_by(message_attempts.c.number)
    ).all()


def sms_sent_in_run(conn: Connection, run_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                messages.c.run_id == run_id,
                messages.c.channel.in_(("sms", "rcs")),
                messages.c.status.in_((QUEUED, *OUT)),
            )
        ).scalar_one()
    )


def lock_recipient(conn: Connection, recipient: str) -> None:
    """Serialise sends to one address across workers until this transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the write transaction already holds
    the database's only write lock.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(recipient, 0))))
