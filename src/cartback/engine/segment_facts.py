"""What segments are evaluated on: the cart, and the person's history with the shop."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, or_, select

from cartback.domain.phone import phone_country
from cartback.domain.segments import ItemFacts, SegmentFacts
from cartback.store.tables import carts, orders
from cartback.store.types import AnyRow


def segment_facts(
    conn: Connection, cart: AnyRow, now: datetime, *, abandoning: bool = False
) -> SegmentFacts:
    """`abandoning`: the cart is being abandoned now, and that abandonment counts already."""
    history = _order_history(conn, cart)
    return SegmentFacts(
        basket_value=cart.total,
        currency=cart.currency,
        # The platform's own count where it sends one; else what this store saw.
        orders_count=cart.customer_orders_count
        if cart.customer_orders_count is not None
        else history[0],
        total_spent=cart.customer_total_spent
        if cart.customer_total_spent is not None
        else history[1],
        last_order_at=history[2],
        customer_tags=frozenset(cart.customer_tags or ()),
        items=tuple(_item(item) for item in cart.items or ()),
        country=cart.country or (phone_country(cart.phone) if cart.phone else None),
        cart_updates=cart.update_count,
        abandonments=_abandonments(conn, cart, now if abandoning else None),
        now=now,
    )


def _same_person(table: Any, cart: AnyRow) -> list[Any]:
    return [
        column == value
        for column, value in ((table.c.email, cart.email), (table.c.phone, cart.phone))
        if value
    ]


def _order_history(conn: Connection, cart: AnyRow) -> tuple[int, Decimal | None, datetime | None]:
    same = _same_person(orders, cart)
    if not same:
        return 0, None, None
    rows = conn.execute(
        select(orders.c.total, orders.c.placed_at).where(
            orders.c.store_id == cart.store_id, or_(*same)
        )
    ).all()
    if not rows:
        return 0, None, None
    spent = sum((row.total for row in rows), Decimal("0"))
    return len(rows), spent, max(row.placed_at for row in rows)


def _abandonments(
    conn: Connection, cart: AnyRow, abandoned_now: datetime | None
) -> tuple[datetime, ...]:
    same = _same_person(carts, cart)
    at = cart.abandoned_at or abandoned_now
    mine = (at,) if at else ()
    if not same:
        return mine
    rows = conn.execute(
        select(carts.c.abandoned_at).where(
            carts.c.store_id == cart.store_id,
            carts.c.id != cart.id,
            carts.c.abandoned_at.is_not(None),
            or_(*same),
        )
    ).all()
    return tuple(sorted((*mine, *(row.abandoned_at for row in rows))))


def _item(item: dict[str, Any]) -> ItemFacts:
    return ItemFacts(
        sku=item.get("sku"),
        tags=frozenset(str(t).strip().lower() for t in item.get("tags") or ()),
        collections=frozenset(str(c).strip().lower() for c in item.get("collections") or ()),
    )
