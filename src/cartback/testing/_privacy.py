"""Privacy requests in memory: the same finding, erasing and audit log as the SQL store."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from cartback.domain.privacy import (
    CART_PERSONAL,
    ERASED,
    ERASED_BODY,
    ORDER_PERSONAL,
    PrivacyEntry,
    Subject,
)
from cartback.domain.records import Cart, Delivery, Order, Reply, Touch
from cartback.testing._data import Data
from cartback.testing._tables import Table, updated

K = TypeVar("K")
R = TypeVar("R")

_CART_PERSONAL: dict[str, Any] = {**dict.fromkeys(CART_PERSONAL), "customer_tags": ()}
_ORDER_PERSONAL: dict[str, Any] = dict.fromkeys(ORDER_PERSONAL)


@dataclass(frozen=True)
class _Scope:
    """Which rows an erasure reaches (see the SQL store's); None: none of that table's."""

    cart: Callable[[Cart], bool]
    order: Callable[[Order], bool]
    recipient: Callable[[str, str], bool]  # (store, recipient)
    ledger: Callable[[str, str, str | None], bool]  # (store, address, customer id)
    delivery: Callable[[Delivery], bool]
    address: Callable[[str], bool] | None = None  # suppressions, replies, touches
    needles: tuple[str, ...] = ()


class MemoryPrivacy:
    def __init__(self, data: Data) -> None:
        self.data = data

    def carts_of(self, subject: Subject) -> list[Cart]:
        return sorted(
            (c for c in self.data.carts.values() if _cart_of(c, subject)), key=lambda c: c.id
        )

    def orders_of(self, subject: Subject) -> list[Order]:
        match = self._order_match(subject)
        return sorted((o for o in self.data.orders.values() if match(o)), key=lambda o: o.id)

    def touches_of(self, subject: Subject) -> list[Touch]:
        found = [Touch(*key) for key in self.data.touches.values() if key[0] in subject.addresses]
        return sorted(found, key=lambda t: t.sent_at)

    def replies_from(self, subject: Subject) -> list[Reply]:
        found = [k.reply for k in self.data.replies.values() if k.reply.sender in subject.phones]
        return sorted(found, key=lambda r: r.received_at)

    def deliveries_mentioning(self, subject: Subject) -> list[Delivery]:
        return sorted(
            (d for d in self.data.deliveries.values() if _mentions(d, subject)),
            key=lambda d: d.id,
        )

    def erase(self, subject: Subject, recipients: Mapping[str, str]) -> dict[str, int]:
        if subject.empty:
            return {}
        scoped = subject.store_id

        def in_store(store_id: str) -> bool:
            return scoped is None or store_id == scoped

        addresses = set(subject.addresses)
        ids = set(subject.customer_ids)
        scope = _Scope(
            cart=lambda c: _cart_of(c, subject),
            order=self._order_match(subject),
            recipient=lambda store, to: to in addresses and in_store(store),
            ledger=lambda store, address, customer: (
                in_store(store) and (address in addresses or customer in ids)
            ),
            delivery=lambda d: _mentions(d, subject),
            address=lambda address: address in addresses,
            needles=subject.needles,
        )
        return self._erase(scope, recipients)

    def erase_store(self, store_id: str) -> dict[str, int]:
        scope = _Scope(
            cart=lambda c: c.store_id == store_id,
            order=lambda o: o.store_id == store_id,
            recipient=lambda store, _to: store == store_id,
            ledger=lambda store, _address, _customer: store == store_id,
            delivery=lambda d: d.store_id == store_id,
        )
        return self._erase(scope, {})

    def _erase(self, scope: _Scope, recipients: Mapping[str, str]) -> dict[str, int]:
        data, counts = self.data, {}
        cart_ids = {c.id for c in data.carts.values() if scope.cart(c)}
        message_ids = {
            m.id
            for m in data.messages.values()
            if m.cart_id in cart_ids or scope.recipient(m.store_id, m.recipient)
        }
        counts["messages"] = _change(
            data.messages,
            lambda m: m.id in message_ids,
            lambda m: {"recipient": recipients.get(m.recipient, ERASED), "body": ERASED},
            error=None,
        )
        _change(data.attempts, lambda a: a.message_id in message_ids, error=None)
        counts["links"] = _change(
            data.links,
            lambda link: link.message_id in message_ids or link.cart_id in cart_ids,
            target_url=ERASED,
        )
        counts["clicks"] = _change(
            data.clicks,
            lambda c: c.message_id in message_ids or c.cart_id in cart_ids,
            user_agent=None,
        )
        counts["opens"] = _change(
            data.opens,
            lambda o: o.message_id in message_ids or o.cart_id in cart_ids,
            user_agent=None,
        )
        if scope.needles:
            _change(
                data.decisions,
                lambda d: d.cart_id in cart_ids,
                lambda d: {"detail": _scrub(d.detail, scope.needles)},
            )
        counts["orders"] = _change(
            data.orders, lambda o: scope.order(o) or o.cart_id in cart_ids, **_ORDER_PERSONAL
        )
        counts["carts"] = _change(data.carts, lambda c: c.id in cart_ids, **_CART_PERSONAL)
        counts["consent_ledger"] = _drop(
            data.consent, lambda e: scope.ledger(e.store_id, e.address, e.customer_external_id)
        )
        address = scope.address
        if address is not None:
            counts["suppressions"] = _drop(data.suppressions, lambda s: address(s.address))
            counts["inbound_messages"] = _drop(data.replies, lambda k: address(k.reply.sender))
            counts["touches"] = _drop(data.touches, lambda t: address(t[0]))
        counts["deliveries"] = _change(
            data.deliveries, scope.delivery, body=ERASED_BODY, error=None
        )
        return {name: count for name, count in counts.items() if count}

    def _order_match(self, subject: Subject) -> Callable[[Order], bool]:
        cart_ids = {c.id for c in self.carts_of(subject)}

        def match(order: Order) -> bool:
            if subject.store_id is not None and order.store_id != subject.store_id:
                return False
            mine = order.cart_id in cart_ids or order.order_key in subject.order_keys
            return mine or _person(order, subject)

        return match

    def log(self, entry: PrivacyEntry) -> None:
        entry_id = self.data.privacy_ids.next()
        self.data.privacy_log.insert(entry_id, updated(entry, id=entry_id, counts=entry.counts))

    def entries(self, store_id: str | None = None) -> list[PrivacyEntry]:
        found = [
            e for e in self.data.privacy_log.values() if store_id is None or e.store_id == store_id
        ]
        return sorted(found, key=lambda e: (e.at, e.id))


def _person(row: Cart | Order, subject: Subject) -> bool:
    return (
        (row.email is not None and row.email in subject.emails)
        or (row.phone is not None and row.phone in subject.phones)
        or (
            row.customer_external_id is not None
            and row.customer_external_id in subject.customer_ids
        )
    )


def _cart_of(cart: Cart, subject: Subject) -> bool:
    if subject.store_id is not None and cart.store_id != subject.store_id:
        return False
    raw = cart.phone_raw is not None and cart.phone_raw in subject.raw_phones
    return raw or _person(cart, subject)


def _mentions(delivery: Delivery, subject: Subject) -> bool:
    if subject.store_id is not None and delivery.store_id != subject.store_id:
        return False
    return any(needle.encode() in delivery.body for needle in subject.needles)


def _scrub(text: str, needles: tuple[str, ...]) -> str:
    for needle in needles:
        text = text.replace(needle, ERASED)
    return text


def _change(
    table: Table[K, R],
    match: Callable[[R], bool],
    computed: Callable[[R], dict[str, Any]] | None = None,
    **changes: Any,
) -> int:
    """Rewrite the rows that match; how many."""
    found = [(pk, row) for pk, row in table.rows.items() if match(row)]
    for pk, row in found:
        extra = computed(row) if computed is not None else {}
        table.replace(pk, updated(row, **changes, **extra))
    return len(found)


def _drop(table: Table[K, R], match: Callable[[R], bool]) -> int:
    found = [pk for pk, row in table.rows.items() if match(row)]
    for pk in found:
        table.delete(pk)
    return len(found)
