"""A cart's legal moves: updates, deletes, purchases and abandonment."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cartback.domain import cart as lifecycle
from cartback.domain.records import Cart, CartStatus

AT = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
OPEN = Cart(
    id=1,
    store_id="acme",
    cart_key="c1",
    currency="DKK",
    total=Decimal("100"),
    occurred_at=AT,
    last_activity_at=AT,
    phone="+4520123456",
    status=CartStatus.OPEN,
    update_count=1,
    created_at=AT,
    updated_at=AT,
)
EARLIER, LATER = AT - timedelta(seconds=1), AT + timedelta(seconds=1)


@pytest.mark.parametrize("status", [CartStatus.OPEN, CartStatus.ABANDONED])
def test_a_live_cart_takes_an_update_of_the_same_time_or_later(status: CartStatus) -> None:
    cart = replace(OPEN, status=status)
    assert lifecycle.accepts_update(cart, AT) and lifecycle.accepts_update(cart, LATER)
    assert not lifecycle.accepts_update(cart, EARLIER)


@pytest.mark.parametrize("status", [CartStatus.PURCHASED, CartStatus.DELETED])
def test_a_closed_cart_takes_no_update_and_no_delete(status: CartStatus) -> None:
    cart = replace(OPEN, status=status)
    assert not lifecycle.accepts_update(cart, LATER)
    assert not lifecycle.may_delete(cart, LATER)
    assert not lifecycle.may_abandon(cart)


def test_a_delete_older_than_the_carts_last_update_is_ignored() -> None:
    assert lifecycle.may_delete(OPEN, AT)
    assert not lifecycle.may_delete(OPEN, EARLIER)


def test_any_cart_not_yet_bought_can_be_bought_even_a_deleted_one() -> None:
    assert lifecycle.may_purchase(OPEN)
    assert lifecycle.may_purchase(replace(OPEN, status=CartStatus.DELETED))
    assert not lifecycle.may_purchase(replace(OPEN, status=CartStatus.PURCHASED))


def test_a_cart_without_any_contact_cannot_be_recovered() -> None:
    assert lifecycle.has_contact(OPEN)
    assert lifecycle.has_contact(replace(OPEN, phone=None, phone_raw="555-BILL"))
    assert not lifecycle.has_contact(replace(OPEN, phone=None))


def test_a_run_ends_as_purchased_only_for_a_bought_cart() -> None:
    assert lifecycle.closed_reason(replace(OPEN, status=CartStatus.PURCHASED)) == "purchased"
    assert lifecycle.closed_reason(replace(OPEN, status=CartStatus.DELETED)) == "deleted"
    assert lifecycle.closed_reason(None) == "deleted"
