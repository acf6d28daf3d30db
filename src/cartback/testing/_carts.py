"""Carts and the orders that close them, in memory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime
from typing import Any, Unpack

from cartback.domain.orders import counts, revenue
from cartback.domain.records import (
    LIVE_CART,
    Cart,
    CartContents,
    CartSearch,
    CartStatus,
    NewOrder,
    Order,
    Purchase,
)
from cartback.store.base import CartChanges, OrderChanges
from cartback.testing._data import Data
from cartback.testing._tables import past, require, updated, utc, utc_or_none

_CONTENTS = tuple(f.name for f in fields(CartContents))
_NEW_ORDER = tuple(f.name for f in fields(NewOrder))
_CART_TIMES = ("abandoned_at", "purchased_at", "deleted_at", "updated_at")


def _contents(contents: CartContents) -> dict[str, Any]:
    values = {name: getattr(contents, name) for name in _CONTENTS}
    values["occurred_at"] = utc(contents.occurred_at)
    values["last_activity_at"] = utc(contents.last_activity_at)
    return values


def _newest(carts: Iterable[Cart], by: str = "updated_at") -> Cart | None:
    return max(carts, key=lambda cart: (getattr(cart, by), cart.id), default=None)


class MemoryCarts:
    def __init__(self, data: Data) -> None:
        self.data = data
        self.table = data.carts

    def get(self, cart_id: int) -> Cart | None:
        return self.table.get(cart_id)

    def get_for_update(self, cart_id: int) -> Cart | None:
        return self.table.get(cart_id)  # the store's one lock is held already

    def find(self, store_id: str, cart_key: str) -> Cart | None:
        cart_id = self.data.cart_by_key.get((store_id, cart_key))
        return None if cart_id is None else self.table.get(cart_id)

    def find_for_delete(
        self, store_id: str, cart_key: str | None, cart_token: str | None
    ) -> Cart | None:
        if cart_key:
            return self.find(store_id, cart_key)
        if not cart_token:
            return None
        return _newest(self._each(self.data.carts_by_token.get((store_id, cart_token))))

    def upsert(self, contents: CartContents, now: datetime) -> tuple[Cart, bool]:
        found = self.find(contents.store_id, contents.cart_key)
        if found is not None:
            return found, False
        now = utc(now)
        cart_id = self.data.cart_ids.next()
        cart = Cart(
            **_contents(contents),
            id=cart_id,
            status=CartStatus.OPEN,
            update_count=1,
            created_at=now,
            updated_at=now,
        )
        return self.table.insert(cart_id, cart), True

    def update_contents(self, cart_id: int, contents: CartContents, now: datetime) -> None:
        cart = self.table.get(cart_id)
        if cart is None:
            return  # as an UPDATE of no row
        values = _contents(contents)
        values.update(updated_at=utc(now), update_count=cart.update_count + 1)
        self.table.replace(cart_id, updated(cart, **values))

    def change(self, cart_id: int, **changes: Unpack[CartChanges]) -> None:
        cart = self.table.get(cart_id)
        if cart is None:
            return
        values: dict[str, Any] = dict(changes)
        for name in _CART_TIMES:
            if name in values:
                values[name] = utc_or_none(values[name])
        if "status" in values:
            values["status"] = CartStatus(values["status"])
        self.table.replace(cart_id, updated(cart, **values))

    def match_for_order(
        self,
        store_id: str,
        *,
        checkout_token: str | None,
        cart_token: str | None,
        customer_id: str | None,
        email: str | None,
        phone: str | None,
        since: datetime,
    ) -> Cart | None:
        if checkout_token:
            found = self.find(store_id, checkout_token)
            if found is not None:
                return found
        if cart_token:
            found = _newest(self._each(self.data.carts_by_token.get((store_id, cart_token))))
            if found is not None:
                return found
        since = utc(since)
        same = self._same_person(store_id, customer_id, email, phone)
        live = (c for c in same if c.status in LIVE_CART and c.last_activity_at >= since)
        return _newest(live, by="last_activity_at")

    def newer_live_cart_exists(self, cart: Cart) -> bool:
        return any(
            other.id != cart.id
            and other.status in LIVE_CART
            and other.last_activity_at > cart.last_activity_at
            for other in self._same_person(cart.store_id, None, cart.email, cart.phone)
        )

    def abandonments(self, cart: Cart) -> list[datetime]:
        return sorted(
            other.abandoned_at
            for other in self._same_person(cart.store_id, None, cart.email, cart.phone)
            if other.id != cart.id and other.abandoned_at is not None
        )

    def stores_knowing_phone(self, phone: str) -> list[str]:
        return sorted({cart.store_id for cart in self._each(self.data.carts_by_phone.get(phone))})

    def page(
        self,
        *,
        store_id: str | None,
        status: str | None,
        limit: int,
        offset: int,
        after: int | None = None,
    ) -> list[Cart]:
        chosen = [
            cart
            for cart in self.table.values()
            if (not store_id or cart.store_id == store_id) and (not status or cart.status == status)
        ]
        return past(chosen, lambda cart: (cart.updated_at, cart.id), after, self.get)[
            offset : offset + limit
        ]

    def search(self, query: CartSearch, *, limit: int, offset: int) -> list[Cart]:
        since, until = utc_or_none(query.since), utc_or_none(query.until)
        text = (query.text or "").strip()
        chosen = [
            cart
            for cart in self.table.values()
            if cart.store_id in query.store_ids
            and (not query.status or cart.status == query.status)
            and (since is None or cart.updated_at >= since)
            and (until is None or cart.updated_at < until)
            and (not text or _matches(cart, text))
        ]
        chosen.sort(key=lambda cart: (cart.updated_at, cart.id), reverse=True)
        return chosen[offset : offset + limit]

    def for_address(self, address: str, limit: int) -> list[Cart]:
        field = "email" if "@" in address else "phone"
        chosen = [cart for cart in self.table.values() if getattr(cart, field) == address]
        chosen.sort(key=lambda cart: (cart.updated_at, cart.id), reverse=True)
        return chosen[:limit]

    def _same_person(
        self, store_id: str, customer_id: str | None, email: str | None, phone: str | None
    ) -> list[Cart]:
        ids: dict[int, None] = {}
        for index, value in (
            (self.data.carts_by_customer, customer_id),
            (self.data.carts_by_email, email),
            (self.data.carts_by_store_phone, phone),
        ):
            if value:
                ids.update(dict.fromkeys(index.get((store_id, value))))
        return list(self._each(ids))

    def _each(self, ids: Iterable[int] | None) -> Iterable[Cart]:
        rows = self.table.rows
        return (rows[cart_id] for cart_id in ids or ())


class MemoryOrders:
    def __init__(self, data: Data) -> None:
        self.data = data
        self.table = data.orders

    def find(self, store_id: str, order_key: str) -> Order | None:
        order_id = self.data.order_by_key.get((store_id, order_key))
        return None if order_id is None else self.table.get(order_id)

    def add(self, order: NewOrder) -> Order:
        require(self.data.carts, order.cart_id, "cart")
        values = {name: getattr(order, name) for name in _NEW_ORDER}
        values.update(placed_at=utc(order.placed_at), received_at=utc(order.received_at))
        values["refunds"] = dict(order.refunds)
        order_id = self.data.order_ids.next()
        return self.table.insert(order_id, Order(**values, id=order_id))

    def mark_paid(self, order_id: int) -> None:
        order = self.table.get(order_id)
        if order is not None:
            self.table.replace(order_id, updated(order, paid=True))

    def change(self, order_id: int, **changes: Unpack[OrderChanges]) -> None:
        order = self.table.get(order_id)
        if order is None:
            return
        values: dict[str, Any] = dict(changes)
        if "refunds" in changes:
            values["refunds"] = dict(changes["refunds"])
        self.table.replace(order_id, updated(order, **values))

    def for_cart(self, cart_id: int) -> Order | None:
        orders = (self.table.rows[i] for i in self.data.orders_by_cart.get(cart_id))
        return min(orders, key=lambda order: (order.placed_at, order.id), default=None)

    def ordered_since(
        self, store_id: str, email: str | None, phone: str | None, since: datetime
    ) -> bool:
        since = utc(since)
        return any(
            order.store_id == store_id and order.placed_at >= since
            for order in self._person(email, phone)
        )

    def last_purchase(self, email: str | None, phone: str | None) -> datetime | None:
        return max((order.placed_at for order in self._person(email, phone)), default=None)

    def purchases(self, store_id: str, email: str | None, phone: str | None) -> list[Purchase]:
        mine = sorted(
            (order for order in self._person(email, phone) if order.store_id == store_id),
            key=lambda order: (order.placed_at, order.id),
        )
        return [
            Purchase(revenue(o.total, o.status, o.test, o.refunded), o.placed_at, o.currency)
            for o in mine
            if counts(o.status, o.test) and o.total > o.refunded
        ]

    def _person(self, email: str | None, phone: str | None) -> list[Order]:
        ids: dict[int, None] = {}
        if email:
            ids.update(dict.fromkeys(self.data.orders_by_email.get(email)))
        if phone:
            ids.update(dict.fromkeys(self.data.orders_by_phone.get(phone)))
        return [self.table.rows[order_id] for order_id in ids]


def _matches(cart: Cart, text: str) -> bool:
    if cart.cart_key == text:
        return True
    wanted = text.lower()
    values = (cart.email, cart.phone, cart.first_name, cart.last_name)
    return any(wanted in value.lower() for value in values if value)
