"""Carts and the orders that close them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from cartback.store.tables import carts, orders
from cartback.store.types import AnyRow

OPEN = "open"
ABANDONED = "abandoned"
PURCHASED = "purchased"
DELETED = "deleted"
LIVE = (OPEN, ABANDONED)


def find(conn: Connection, store_id: str, cart_key: str) -> AnyRow | None:
    return conn.execute(
        select(carts).where(carts.c.store_id == store_id, carts.c.cart_key == cart_key)
    ).first()


def find_deleted_target(
    conn: Connection, store_id: str, cart_key: str | None, cart_token: str | None
) -> AnyRow | None:
    """The cart a delete names: by its key, else the newest live cart with that cart token."""
    if cart_key:
        return find(conn, store_id, cart_key)
    return conn.execute(
        select(carts)
        .where(carts.c.store_id == store_id, carts.c.cart_token == cart_token)
        .order_by(carts.c.updated_at.desc())
        .limit(1)
    ).first()


def get(conn: Connection, cart_id: int) -> AnyRow | None:
    return conn.execute(select(carts).where(carts.c.id == cart_id)).first()


def get_for_update(conn: Connection, cart_id: int) -> AnyRow | None:
    """The cart, locked against a concurrent order until this transaction ends (PostgreSQL)."""
    return conn.execute(select(carts).where(carts.c.id == cart_id).with_for_update()).first()


def insert_cart(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(insert(carts).values(**values).returning(carts.c.id)).scalar_one())


def update_cart(conn: Connection, cart_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(carts).where(carts.c.id == cart_id).values(**values))


def bump_update_count(conn: Connection, cart_id: int) -> None:
    conn.execute(
        update(carts).where(carts.c.id == cart_id).values(update_count=carts.c.update_count + 1)
    )


def match_for_order(
    conn: Connection,
    store_id: str,
    *,
    checkout_token: str | None,
    cart_token: str | None,
    customer_id: str | None,
    email: str | None,
    phone: str | None,
    since: datetime,
) -> AnyRow | None:
    """The cart an order closes: by checkout token, then cart token, then the same person."""
    for column, value in ((carts.c.cart_key, checkout_token), (carts.c.cart_token, cart_token)):
        if value:
            row = conn.execute(
                select(carts)
                .where(carts.c.store_id == store_id, column == value)
                .order_by(carts.c.updated_at.desc())
                .limit(1)
            ).first()
            if row is not None:
                return row
    return _match_person(conn, store_id, customer_id, email, phone, since)


def _match_person(
    conn: Connection,
    store_id: str,
    customer_id: str | None,
    email: str | None,
    phone: str | None,
    since: datetime,
) -> AnyRow | None:
    same = [
        column == value
        for column, value in (
            (carts.c.customer_external_id, customer_id),
            (carts.c.email, email),
            (carts.c.phone, phone),
        )
        if value
    ]
    if not same:
        return None
    return conn.execute(
        select(carts)
        .where(
            carts.c.store_id == store_id,
            carts.c.status.in_(LIVE),
            carts.c.last_activity_at >= since,
            or_(*same),
        )
        .order_by(carts.c.last_activity_at.desc())
        .limit(1)
    ).first()


def find_order(conn: Connection, store_id: str, order_key: str) -> AnyRow | None:
    return conn.execute(
        select(orders).where(orders.c.store_id == store_id, orders.c.order_key == order_key)
    ).first()


def insert_order(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(insert(orders).values(**values).returning(orders.c.id)).scalar_one())


def update_order(conn: Connection, order_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(orders).where(orders.c.id == order_id).values(**values))


def ordered_since(
    conn: Connection, store_id: str, email: str | None, phone: str | None, since: datetime
) -> bool:
    """Whether this person placed any order in the store at or after `since`."""
    same = [c == v for c, v in ((orders.c.email, email), (orders.c.phone, phone)) if v]
    if not same:
        return False
    found = conn.execute(
        select(orders.c.id)
        .where(and_(orders.c.store_id == store_id, orders.c.placed_at >= since, or_(*same)))
        .limit(1)
    ).first()
    return found is not None


def order_for_cart(conn: Connection, cart_id: int) -> AnyRow | None:
    return conn.execute(
        select(orders).where(orders.c.cart_id == cart_id).order_by(orders.c.placed_at).limit(1)
    ).first()


def newer_live_cart(conn: Connection, cart: AnyRow) -> bool:
    """Whether the same person has a newer open or abandoned cart in the same store."""
    same = [c == v for c, v in ((carts.c.email, cart.email), (carts.c.phone, cart.phone)) if v]
    if not same:
        return False
    found = conn.execute(
        select(carts.c.id)
        .where(
            carts.c.store_id == cart.store_id,
            carts.c.id != cart.id,
            carts.c.status.in_(LIVE),
            carts.c.last_activity_at > cart.last_activity_at,
            or_(*same),
        )
        .limit(1)
    ).first()
    return found is not None


def last_purchase(conn: Connection, email: str | None, phone: str | None) -> datetime | None:
    """This person's latest order in any store."""
    same = [c == v for c, v in ((orders.c.email, email), (orders.c.phone, phone)) if v]
    if not same:
        return None
    value: datetime | None = conn.execute(
        select(func.max(orders.c.placed_at)).where(or_(*same))
    ).scalar()
    return value
