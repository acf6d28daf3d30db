"""Orders: kept once per platform order, with the cart they closed and the message that won it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from cartback.domain.records import NewOrder, Order, Purchase
from cartback.store.sql.common import same_person
from cartback.store.tables import orders
from cartback.store.types import AnyRow


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
        }
        row = self.conn.execute(insert(orders).values(**values).returning(*orders.c)).one()
        return order_from(row)

    def mark_paid(self, order_id: int) -> None:
        self.conn.execute(update(orders).where(orders.c.id == order_id).values(paid=True))

    def for_cart(self, cart_id: int) -> Order | None:
        row = self.conn.execute(
            select(orders).where(orders.c.cart_id == cart_id).order_by(orders.c.placed_at).limit(1)
        ).first()
        return order_from(row) if row is not None else None

    def ordered_since(
        self, store_id: str, email: str | None, phone: str | None, since: datetime
    ) -> bool:
        same = same_person(orders, email, phone)
        if same is None:
            return False
        found = self.conn.execute(
            select(orders.c.id)
            .where(orders.c.store_id == store_id, orders.c.placed_at >= since, same)
            .limit(1)
        ).first()
        return found is not None

    def last_purchase(self, email: str | None, phone: str | None) -> datetime | None:
        same = same_person(orders, email, phone)
        if same is None:
            return None
        latest: datetime | None = self.conn.execute(
            select(func.max(orders.c.placed_at)).where(same)
        ).scalar()
        return latest

    def purchases(self, store_id: str, email: str | None, phone: str | None) -> list[Purchase]:
        same = same_person(orders, email, phone)
        if same is None:
            return []
        rows = self.conn.execute(
            select(orders.c.total, orders.c.placed_at).where(orders.c.store_id == store_id, same)
        )
        return [Purchase(row.total, row.placed_at) for row in rows]


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
    )
