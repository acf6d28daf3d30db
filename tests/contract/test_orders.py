"""Orders: once per store and key, found by cart and by person."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cartback.domain.records import Purchase
from cartback.store.base import Store
from tests.contract.records import HOUR, T0, new_cart, order


def test_an_order_comes_back_with_its_id_and_every_field(store: Store) -> None:
    with store.transaction() as tx:
        cart = new_cart(tx)
        given = order(
            cart,
            checkout_token=cart.cart_key,
            cart_token="tok-1",
            customer_external_id="cust-1",
            discount_total=Decimal("40.50"),
            paid=False,
            recovered=True,
            attributed_message_id="msg-x",
            attribution="click",
        )
        added = tx.orders.add(given)
    with store.reading() as tx:
        found = tx.orders.find("acme", given.order_key)
        by_cart = tx.orders.for_cart(cart.id)
    assert found == added == by_cart
    assert found is not None and found.id > 0
    assert found.total == Decimal("404.95") and found.discount_total == Decimal("40.50")
    assert (found.recovered, found.attribution, found.attributed_message_id) == (
        True,
        "click",
        "msg-x",
    )
    assert found.placed_at == T0 + HOUR and found.placed_at.utcoffset() is not None


def test_an_order_is_kept_once_per_store_and_key(store: Store) -> None:
    with store.transaction() as tx:
        tx.orders.add(order(order_key="o1"))
        tx.orders.add(order(order_key="o1", store_id="other"))
    with pytest.raises(Exception), store.transaction() as tx:  # noqa: B017 (any store's error)
        tx.orders.add(order(order_key="o2"))
        tx.orders.add(order(order_key="o1"))
    with store.reading() as tx:
        assert tx.orders.find("acme", "o2") is None  # the whole unit of work was undone
        assert tx.orders.find("acme", "o1") is not None
        assert tx.orders.find("other", "o1") is not None


def test_marking_an_order_paid(store: Store) -> None:
    with store.transaction() as tx:
        added = tx.orders.add(order(paid=False))
        tx.orders.mark_paid(added.id)
    with store.reading() as tx:
        found = tx.orders.find(added.store_id, added.order_key)
    assert found is not None and found.paid


def test_the_first_order_placed_for_a_cart(store: Store) -> None:
    with store.transaction() as tx:
        cart = new_cart(tx)
        tx.orders.add(order(cart, placed_at=T0 + 3 * HOUR))
        first = tx.orders.add(order(cart, placed_at=T0 + 2 * HOUR))
        empty = new_cart(tx)
    with store.reading() as tx:
        assert tx.orders.for_cart(cart.id) == first
        assert tx.orders.for_cart(empty.id) is None


def test_a_persons_orders_by_email_or_phone(store: Store) -> None:
    ann, phone = "ann@example.com", "+4520123456"
    with store.transaction() as tx:
        tx.orders.add(order(email=ann, placed_at=T0, total=Decimal("10")))
        tx.orders.add(order(phone=phone, placed_at=T0 + HOUR, total=Decimal("20")))
        tx.orders.add(order(email=ann, store_id="b", placed_at=T0 + 5 * HOUR))
        tx.orders.add(order(email="bob@example.com", placed_at=T0 + 9 * HOUR))
    with store.reading() as tx:
        purchases = sorted(tx.orders.purchases("acme", ann, phone), key=lambda p: p.placed_at)
        assert purchases == [
            Purchase(Decimal("10"), T0, "DKK"),
            Purchase(Decimal("20"), T0 + HOUR, "DKK"),
        ]
        assert tx.orders.purchases("acme", None, None) == []
        assert tx.orders.last_purchase(ann, None) == T0 + 5 * HOUR  # any store
        assert tx.orders.last_purchase(None, phone) == T0 + HOUR
        assert tx.orders.last_purchase(None, None) is None
        assert tx.orders.ordered_since("acme", ann, None, T0)
        assert tx.orders.ordered_since("acme", None, phone, T0 + HOUR)
        assert not tx.orders.ordered_since("acme", ann, phone, T0 + 2 * HOUR)
        assert not tx.orders.ordered_since("acme", None, None, T0)


def test_an_order_names_a_cart_that_exists(store: Store) -> None:
    with pytest.raises(Exception), store.transaction() as tx:  # noqa: B017
        tx.orders.add(order(cart_id=987654))
