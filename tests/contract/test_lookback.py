"""The questions asked before a send, in one go: the same answers as asked one by one."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal

from cartback.domain.orders import OrderStatus
from cartback.domain.records import STOP_REPLY, CartStatus, Purchase, Suppression, Touch
from cartback.store.base import Store
from cartback.store.lookback import Ask, History, Lookback, asked_one_by_one, history_one_by_one
from tests.contract.records import (
    HOUR,
    MINUTE,
    T0,
    cart_with_due_run,
    consent,
    message,
    new_cart,
    order,
)

ANN, BO, CY = "ann@example.com", "bo@example.com", "cy@example.com"
ANN_PHONE, BO_PHONE = "+4520123456", "+4520999999"


def _world(store: Store) -> list[Ask]:
    """Carts of three people with orders, consents, suppressions, messages and touches around
    them; every shape of question about each cart."""
    ann, ann_run = cart_with_due_run(store, email=ANN, phone=ANN_PHONE)
    bo, bo_run = cart_with_due_run(store, email=BO, phone=BO_PHONE, last_activity_at=T0 - HOUR)
    cy, cy_run = cart_with_due_run(store, email=CY, phone=None)
    nobody, nobody_run = cart_with_due_run(store, email=None, phone=None)
    with store.transaction() as tx:
        new_cart(tx, email=ANN, phone=None, last_activity_at=T0 + HOUR)  # a newer cart of Ann
        tx.orders.add(order(bo, placed_at=T0, email=BO, phone=None))  # Bo bought after his cart
        tx.orders.add(order(cy, placed_at=T0 - 2 * HOUR, phone=None))  # Cy bought before hers
        tx.consent.add(consent(ANN_PHONE))
        tx.consent.add(consent(ANN_PHONE, granted=False, occurred_at=T0 + MINUTE))  # then no
        tx.consent.add(consent(BO, channel="email"))
        tx.consent.add(consent(BO_PHONE, store_id="other"))  # another store's
        tx.consent.suppress(Suppression("email", CY, "unsubscribe", "link", T0))
        tx.consent.suppress(Suppression("sms", BO_PHONE, STOP_REPLY, "inmobile", T0))
        tx.messages.add(message(ann, ann_run, recipient=ANN_PHONE, created_at=T0 - HOUR))
        tx.messages.add(
            message(bo, bo_run, recipient=ANN_PHONE, created_at=T0 - 2 * HOUR, step_index=1)
        )
        tx.messages.add(message(bo, bo_run, recipient=BO_PHONE, created_at=T0 - MINUTE))
        tx.messages.add(message(cy, cy_run, channel="email", recipient=CY, created_at=T0))
        touch = Touch(BO, "email", T0 - 3 * HOUR, "newsletter")
        tx.touches.add_many([touch, Touch(ANN_PHONE, "sms", T0 - 2 * HOUR, "crm")], T0)
    asks = []
    runs = ((ann, ann_run), (bo, bo_run), (cy, cy_run), (nobody, nobody_run))
    for (cart, run), kind, since, ordered, hashed in itertools.product(
        runs, ("sms", "email"), (T0 - 4 * HOUR, T0 - 30 * MINUTE), (True, False), (False, True)
    ):
        address = cart.email if kind == "email" else cart.phone
        addresses = [address] if address else []
        phones = [cart.phone] if cart.phone else []
        if hashed:  # as an erased person's hashes would be asked about too
            addresses += [f"erased:{a}" for a in addresses]
            phones += [f"erased:{p}" for p in phones]
        asks.append(Ask(cart, run.id, kind, address, addresses, phones, since, ordered))
        asks.append(replace(asks[-1], run_id=run.id + 100))  # another run's view
    return asks


def test_the_answers_in_one_go_are_those_asked_one_by_one(store: Store) -> None:
    asks = _world(store)
    with store.reading() as tx:
        pairs = [(tx.lookback.before_send(ask), asked_one_by_one(tx, ask)) for ask in asks]
    for ask, (together, one_by_one) in zip(asks, pairs, strict=True):
        assert together == one_by_one, ask
    # The world asks every question with answers both ways, so that the comparison can fail.
    answers = [together for together, _ in pairs]
    for name in Lookback.__slots__:
        assert len({repr(getattr(a, name)) for a in answers}) > 1, name


def test_what_the_one_go_answers_about_one_cart(store: Store) -> None:
    asks = _world(store)
    ann_sms = asks[0]  # Ann, sms, touches since 4 hours back, orders asked, no hashes
    with store.reading() as tx:
        seen = tx.lookback.before_send(ann_sms)
        bo = tx.lookback.before_send(_first(asks, BO, "sms"))
        cy = tx.lookback.before_send(_first(asks, CY, "email"))
    assert seen.consent is False  # her latest word on sms was no
    assert seen.newer_cart and not seen.ordered_since and not seen.blocked
    assert seen.last_ours == T0 - 2 * HOUR  # her run's own message does not count
    assert seen.last_theirs == T0 - 2 * HOUR and seen.sms_in_run == 1
    assert bo.sms_in_run == 2  # hers went out in his run
    assert bo.ordered_since and bo.blocked and bo.consent is None and bo.last_purchase == T0
    assert cy.blocked and cy.consent is None and cy.last_purchase == T0 - 2 * HOUR


def _first(asks: list[Ask], email: str, kind: str) -> Ask:
    return next(a for a in asks if a.cart.email == email and a.kind == kind)


def test_a_persons_history_in_one_go_is_as_asked_one_by_one(store: Store) -> None:
    """Orders that count (not a test, a cancelled or a refunded one) and the person's other
    abandoned carts, by email or phone, in this store only."""
    ann, _ = cart_with_due_run(store, email=ANN, phone=ANN_PHONE)
    by_phone, _ = cart_with_due_run(store, email=None, phone=ANN_PHONE)
    nobody, _ = cart_with_due_run(store, email=None, phone=None)
    with store.transaction() as tx:
        for at, email, phone in ((T0 - HOUR, ANN, None), (T0 - 2 * HOUR, None, ANN_PHONE)):
            other = new_cart(tx, email=email, phone=phone)
            tx.carts.change(other.id, status=CartStatus.ABANDONED, abandoned_at=at)
        tx.carts.change(ann.id, status=CartStatus.ABANDONED, abandoned_at=T0)  # her own
        new_cart(tx, email=ANN, phone=None)  # not abandoned
        new_cart(tx, store_id="other", email=ANN, phone=None)  # another store's
        tx.orders.add(order(ann, placed_at=T0 - 3 * HOUR, total=Decimal("100"), phone=None))
        tx.orders.add(order(ann, placed_at=T0 - 4 * HOUR, currency="EUR", email=None))
        tx.orders.add(order(ann, placed_at=T0 - 5 * HOUR, test=True))
        tx.orders.add(order(ann, placed_at=T0 - 6 * HOUR, status=OrderStatus.CANCELLED))
        tx.orders.add(order(ann, placed_at=T0 - 7 * HOUR, store_id="other"))
        refunded = {"r-1": Decimal("404.95")}
        tx.orders.add(order(ann, placed_at=T0 - 8 * HOUR, refunds=refunded))
    with store.reading() as tx:
        carts = [tx.carts.get(cart.id) for cart in (ann, by_phone, nobody)]
        pairs = [(tx.lookback.history(c), history_one_by_one(tx, c)) for c in carts if c]
    for together, one_by_one in pairs:
        assert sorted(together.purchases, key=repr) == sorted(one_by_one.purchases, key=repr)
        assert sorted(together.abandonments) == sorted(one_by_one.abandonments)
    seen = pairs[0][0]
    assert sorted(seen.purchases, key=lambda p: p.placed_at) == [
        Purchase(Decimal("404.95"), T0 - 4 * HOUR, "EUR"),
        Purchase(Decimal("100"), T0 - 3 * HOUR, "DKK"),
    ]
    assert sorted(seen.abandonments) == [T0 - 2 * HOUR, T0 - HOUR]
    assert sorted(pairs[1][0].abandonments) == [T0 - 2 * HOUR, T0]  # hers, by the phone
    assert pairs[2][0] == History([], [])
