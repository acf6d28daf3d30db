"""The figures a shop owner asks for: what was abandoned, sent, spent and won back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, func, select

from cartback.store.tables import carts, decisions, messages, orders


@dataclass
class StoreFigures:
    store_id: str
    currency: str | None
    carts_abandoned: int = 0
    messages_sent: int = 0
    messages_delivered: int = 0
    sms_segments: int = 0
    spend: Decimal = Decimal("0")
    orders_recovered: int = 0
    recovered_revenue: Decimal = Decimal("0")
    discount_cost: Decimal = Decimal("0")  # discounts our codes gave on recovered orders
    skipped: dict[str, int] = field(default_factory=dict)


def figures(
    conn: Connection, store_id: str, currency: str | None, since: datetime | None
) -> StoreFigures:
    out = StoreFigures(store_id, currency)
    out.carts_abandoned = _count_abandoned(conn, store_id, since)
    _add_messages(conn, out, since)
    _add_orders(conn, out, since)
    out.skipped = _skips(conn, store_id, since)
    if out.currency is None:
        out.currency = _any_currency(conn, store_id)
    return out


def _count_abandoned(conn: Connection, store_id: str, since: datetime | None) -> int:
    query = select(func.count()).where(
        carts.c.store_id == store_id, carts.c.abandoned_at.is_not(None)
    )
    if since is not None:
        query = query.where(carts.c.abandoned_at >= since)
    return int(conn.execute(query).scalar_one())


def _add_messages(conn: Connection, out: StoreFigures, since: datetime | None) -> None:
    query = select(
        messages.c.status,
        messages.c.channel,
        messages.c.channel_used,
        messages.c.segments,
        messages.c.provider_segments,
        messages.c.cost,
    ).where(messages.c.store_id == out.store_id, messages.c.status.in_(("sent", "delivered")))
    if since is not None:
        query = query.where(messages.c.created_at >= since)
    # Amounts are summed in Python: SQLite has no exact decimal arithmetic.
    for row in conn.execute(query):
        out.messages_sent += 1
        out.messages_delivered += row.status == "delivered"
        if (row.channel_used or row.channel) == "sms":
            # What the gateway billed where it said so (inMobile smsCount, Twilio NumSegments).
            out.sms_segments += row.provider_segments or row.segments
        out.spend += row.cost


def _add_orders(conn: Connection, out: StoreFigures, since: datetime | None) -> None:
    query = (
        select(orders.c.total, orders.c.discount_total, messages.c.discount_code)
        .select_from(orders.outerjoin(messages, messages.c.id == orders.c.attributed_message_id))
        .where(orders.c.store_id == out.store_id, orders.c.recovered)
    )
    if since is not None:
        query = query.where(orders.c.placed_at >= since)
    for row in conn.execute(query):
        out.orders_recovered += 1
        out.recovered_revenue += row.total
        if row.discount_code:
            out.discount_cost += row.discount_total


def _skips(conn: Connection, store_id: str, since: datetime | None) -> dict[str, int]:
    query = (
        select(decisions.c.reason, func.count())
        .select_from(decisions.join(carts, carts.c.id == decisions.c.cart_id))
        .where(carts.c.store_id == store_id, decisions.c.action.in_(("skip", "cancel")))
        .group_by(decisions.c.reason)
    )
    if since is not None:
        query = query.where(decisions.c.at >= since)
    return {reason: int(count) for reason, count in conn.execute(query)}


def _any_currency(conn: Connection, store_id: str) -> str | None:
    return conn.execute(
        select(carts.c.currency).where(carts.c.store_id == store_id).limit(1)
    ).scalar()
