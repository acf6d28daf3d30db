"""The report's cells as a store sums them: a cart's figures under its flow, group, arms and day
(per step or channel too), its first order counted when placed within the window after
abandonment to the microsecond, our code's discount taken off only when its messages carried
one. A store may split a cell; what counts is the sum under each key."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from cartback.domain.cells import Cell, CellsAsked, Per
from cartback.domain.engagement import Click, Link, Open
from cartback.domain.experiments import Assignment
from cartback.domain.records import Cart, CartStatus, MessageStatus
from cartback.store.base import Store
from cartback.store.sql import cells as sql_cells
from tests.contract.records import HOUR, MINUTE, T0, cart_with_due_run, message, order

ARMS = (("cart-sms.step1", "a"),)
WINDOW = timedelta(hours=5, microseconds=7)
MICRO = timedelta(microseconds=1)
ASKED = CellsAsked("acme", None, WINDOW)


@pytest.fixture(autouse=True, params=["by range", "cart by cart"])
def read_by(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test with the period's carts read as one range of ids and looked up cart by cart:
    PostgreSQL's two ways (`SPAN`); SQLite and the in-memory store read one way under both."""
    monkeypatch.setattr(sql_cells, "SPAN", 10**9 if request.param == "by range" else 0)
    return str(request.param)


def summed(cells: Iterable[Cell]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Each key's figures added up (money apart by the recovered orders' currency)."""
    found: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0] * 6 + [Decimal(0)])
    money: dict[tuple[Any, ...], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 2)
    for c in cells:
        key = (c.flow_id, c.held_out, c.arms, c.day, c.step, c.channel)
        figures = (c.carts, c.recovered, c.messages, c.clicks, c.bot_clicks, c.opens, c.spend)
        found[key] = [a + b for a, b in zip(found[key], figures, strict=True)]
        if c.currency is not None:
            money[(*key, c.currency)][0] += c.revenue
            money[(*key, c.currency)][1] += c.discount
    both = {k: tuple(v) for k, v in found.items()}
    return both | {k: tuple(v) for k, v in money.items() if any(v)}


def abandoned_cart(store: Store, held: bool = False) -> Cart:
    cart, run = cart_with_due_run(store)
    with store.transaction() as tx:
        tx.carts.change(cart.id, status=CartStatus.ABANDONED, abandoned_at=T0)
        tx.measure.assign(run.id, Assignment(held, ARMS))
    return cart


def test_a_cart_its_messages_engagement_and_first_order_in_one_cell(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    sent = message(cart, run, status=MessageStatus.SENT, link_code="c", discount_code="TEN")
    email = message(cart, run, step_index=1, channel="email", status=MessageStatus.DELIVERED)
    failed = message(cart, run, step_index=2, status=MessageStatus.FAILED)
    with store.transaction() as tx:
        tx.carts.change(cart.id, status=CartStatus.ABANDONED, abandoned_at=T0)
        tx.measure.assign(run.id, Assignment(False, ARMS))
        for each in (sent, email, failed):
            tx.messages.add(each)
        tx.messages.add_link(Link("c", sent.id, cart.id, "https://shop", T0))
        tx.messages.add_click(Click("c", sent.id, cart.id, T0 + MINUTE, "Mozilla/5.0"))
        tx.messages.add_click(Click("c", sent.id, cart.id, T0, None, 0, "no agent", "machine"))
        tx.measure.add_open(Open(email.id, cart.id, T0 + MINUTE, "Mozilla/5.0"))
        tx.orders.add(order(cart, discount_total=Decimal("40.50"), refunds={"r1": Decimal("4.95")}))
        tx.orders.add(order(cart, placed_at=T0 + 2 * HOUR, total=Decimal("50")))
    day = T0.date().isoformat()
    with store.reading() as tx:
        carts = summed(tx.measure.cells(ASKED))
        steps = summed(tx.measure.cells(replace(ASKED, per=Per.STEP)))
        channels = summed(tx.measure.cells(replace(ASKED, flow_id="cart-sms", per=Per.CHANNEL)))
        assert tx.measure.cells(replace(ASKED, since=T0 + MINUTE)) == []
        assert tx.measure.cells(replace(ASKED, flow_id="elsewhere")) == []
        assert tx.measure.cells(replace(ASKED, store_id="other-store")) == []
    key = ("cart-sms", False, ARMS, day)
    assert carts == {
        (*key, None, None): (1, 1, 2, 1, 1, 1, Decimal("0.60")),
        (*key, None, None, "DKK"): (Decimal("359.50"), Decimal("40.50")),
    }
    assert steps[(*key, 0, None)] == (1, 1, 1, 1, 1, 0, Decimal("0.30"))
    assert steps[(*key, 1, None)] == (1, 1, 1, 0, 0, 1, Decimal("0.30"))
    assert len(steps) == 4  # and each step's money
    assert channels[(*key, None, "sms")] == (1, 1, 1, 1, 1, 0, Decimal("0.30"))
    assert channels[(*key, None, "email")] == (1, 1, 1, 0, 0, 1, Decimal("0.30"))


def test_recovered_is_the_first_order_within_the_window_to_the_microsecond(store: Store) -> None:
    placed = [
        [T0],  # at abandonment
        [T0 + WINDOW],  # at the window's end
        [T0 + WINDOW + MICRO],  # just after
        [T0 - MICRO, T0 + HOUR],  # the first order came before abandonment
        [],
    ]
    for times in placed:
        cart = abandoned_cart(store)
        with store.transaction() as tx:
            for at in times:
                tx.orders.add(order(cart, placed_at=at, received_at=at, total=Decimal("10")))
    with store.reading() as tx:
        found = summed(tx.measure.cells(ASKED))
    key = ("cart-sms", False, ARMS, T0.date().isoformat(), None, None)
    assert found[key][:2] == (5, 2)
    assert found[(*key, "DKK")] == (Decimal("20"), Decimal("0"))


def test_a_discount_counts_only_where_the_carts_messages_carried_our_code(store: Store) -> None:
    for code in ("TEN", None):
        cart, run = cart_with_due_run(store)
        with store.transaction() as tx:
            tx.carts.change(cart.id, status=CartStatus.ABANDONED, abandoned_at=T0)
            tx.measure.assign(run.id, Assignment(True, ()))
            tx.messages.add(message(cart, run, status=MessageStatus.SENT, discount_code=code))
            tx.orders.add(order(cart, total=Decimal("100"), discount_total=Decimal("10")))
    with store.reading() as tx:
        found = summed(tx.measure.cells(ASKED))
    key = ("cart-sms", True, (), T0.date().isoformat(), None, None)
    assert found[key][:3] == (2, 2, 2)
    assert found[(*key, "DKK")] == (Decimal("190"), Decimal("10"))
