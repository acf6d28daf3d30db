"""Orders: kept once per platform order, with the cart they closed and the message that won it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, Unpack

from sqlalchemy import Connection, bindparam, func, insert, select, update

from cartback.domain.orders import OrderStatus, counts, refunded_total, revenue
from cartback.domain.records import NewOrder, Order, Purchase
from cartback.store.base import OrderChanges
from cartback.store.sql.common import person, same_person_by
from cartback.store.tables import orders
from cartback.store.types import AnyRow


# Asked before every send: built once per shape (who is known), the values as parameters.
@cache
def _ordered_since(email: bool, phone: bool) -> Any:
    return (
        select(orders.c.id)
        .where(
            orders.c.store_id == bindparam("store_id"),
            orders.c.placed_at >= bindparam("since"),
            same_person_by(orders, email, phone),
        )
        .limit(1)
    )


@cache
def _purchases(email: bool, phone: bool) -> Any:
    columns = ("total", "placed_at", "currency", "status", "test", "refunded")
    return select(*(orders.c[name] for name in columns)).where(
        orders.c.store_id == bindparam("store_id"), same_person_by(orders, email, phone)
    )


@cache
def _last_purchase(email: bool, phone: bool) -> Any:
    return select(func.max(orders.c.placed_at)).where(same_person_by(orders, email, phone))


class SqlOrders:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def find(self, store_id: str, order_key: str) -> Order | None:
        row = self.conn.execute(
            select(orders).where(orders.c.store_id == store_id, orders.c.order_key == order_key)
        ).first()
        return order_from(row) if row is not None else None

    def add(self, order: NewOrder) -> Order:
        values = {
            "store_id": order.store_id,
            "order_key": order.order_key,
            "cart_id": order.cart_id,
            "checkout_token": order.checkout_token,
            "cart_token": order.cart_token,
            "customer_external_id": order.customer_external_id,
            "email": order.email,
            "phone": order.phone,
            "currency": order.currency,
            "total": order.total,
            "discount_total": order.discount_total,
            "paid": order.paid,
            "placed_at": order.placed_at,
            "received_at": order.received_at,
            "recovered": order.recovered,
            "attributed_message_id": order.attributed_message_id,
            "attribution": order.attribution,
            "status": str(order.status),
            "test": order.test,
            **refund_values(order.refunds),
        }
        row = self.conn.execute(insert(orders).values(**values).returning(*orders.c)).one()
        return order_from(row)

    def mark_paid(self, order_id: int) -> None:
        self.conn.execute(update(orders).where(orders.c.id == order_id).values(paid=True))

    def change(self, order_id: int, **changes: Unpack[OrderChanges]) -> None:
        values: dict[str, Any] = {key: value for key, value in changes.items() if key != "refunds"}
        if "status" in changes:
            values["status"] = str(changes["status"])
        if "refunds" in changes:
            values.update(refund_values(changes["refunds"]))
        if values:
            self.conn.execute(update(orders).where(orders.c.id == order_id).values(**values))

    def for_cart(self, cart_id: int) -> Order | None:
        row = self.conn.execute(
            select(orders).where(orders.c.cart_id == cart_id).order_by(orders.c.placed_at).limit(1)
        ).first()
        return order_from(row) if row is not None else None

    def ordered_since(
        self, store_id: str, email: str | None, phone: str | None, since: datetime
    ) -> bool:
        known = person(email, phone)
        if not known:
            return False
        query = _ordered_since("email" in known, "phone" in known)
        values = {"store_id": store_id, "since": since} | known
        return self.conn.execute(query, values).first() is not None

    def last_purchase(self, email: str | None, phone: str | None) -> datetime | None:
        known = person(email, phone)
        if not known:
            return None
        query = _last_purchase("email" in known, "phone" in known)
        latest: datetime | None = self.conn.execute(query, known).scalar()
        return latest

    def purchases(self, store_id: str, email: str | None, phone: str | None) -> list[Purchase]:
        known = person(email, phone)
        if not known:
            return []
        query = _purchases("email" in known, "phone" in known)
        return purchases_from(self.conn.execute(query, {"store_id": store_id} | known))


def purchases_from(rows: Iterable[AnyRow]) -> list[Purchase]:
    """The orders that count, from rows of `_purchases`' columns."""
    return [
        Purchase(revenue(r.total, r.status, r.test, r.refunded), r.placed_at, r.currency)
        for r in rows
        if counts(r.status, r.test) and r.total > r.refunded
    ]


def refund_values(refunds: Mapping[str, Decimal]) -> dict[str, Any]:
    """The refunds as JSON keeps them (amounts as text), and their sum."""
    return {
        "refunds": {key: str(amount) for key, amount in refunds.items()} or None,
        "refunded": refunded_total(refunds),
    }


def order_from(row: AnyRow) -> Order:
    return Order(
        id=row.id,
        store_id=row.store_id,
        order_key=row.order_key,
        currency=row.currency,
        total=row.total,
        placed_at=row.placed_at,
        received_at=row.received_at,
        cart_id=row.cart_id,
        checkout_token=row.checkout_token,
        cart_token=row.cart_token,
        customer_external_id=row.customer_external_id,
        email=row.email,
        phone=row.phone,
        discount_total=row.discount_total,
        paid=row.paid,
        recovered=row.recovered,
        attributed_message_id=row.attributed_message_id,
        attribution=row.attribution,
        status=OrderStatus(row.status),
        test=row.test,
        refunds={key: Decimal(amount) for key, amount in (row.refunds or {}).items()},
    )
