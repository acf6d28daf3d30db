"""Shopify orders in shop money, their status, refunds and the field a phone came from."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cartback.domain.events import CartUpdated, Event, OrderChanged, OrderPlaced
from cartback.domain.orders import OrderStatus, Refund
from cartback.integrations.shopify import parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
RECEIVED_AT = datetime(2026, 4, 2, 8, 30, tzinfo=UTC)


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def events(topic: str, payload: dict[str, Any], currency: str | None = None) -> list[Event]:
    body = json.dumps(payload).encode()
    return parse(
        topic, body, store_id="s", default_country="DK", received_at=RECEIVED_AT, currency=currency
    )


def order(payload: dict[str, Any], topic: str = "orders/create", **kw: Any) -> OrderPlaced:
    [event] = events(topic, payload, **kw)
    assert isinstance(event, OrderPlaced)
    return event


def live_order(**changes: Any) -> dict[str, Any]:
    """Shopify's sample order is a voided, cancelled test order: this one is real and paid."""
    payload = sample("orders_create.json")
    payload.update(test=False, financial_status="paid", cancelled_at=None, cancel_reason=None)
    payload.update(changes)
    return payload


def money(shop: tuple[str, str], presentment: tuple[str, str]) -> dict[str, Any]:
    return {
        "shop_money": {"amount": shop[0], "currency_code": shop[1]},
        "presentment_money": {"amount": presentment[0], "currency_code": presentment[1]},
    }


def multi_currency_order() -> dict[str, Any]:
    """A Danish shop (DKK) selling to a buyer who pays in euros."""
    return live_order(
        currency="DKK",
        presentment_currency="EUR",
        total_price="54.30",  # older versions: in the buyer's currency
        total_price_set=money(("405.00", "DKK"), ("54.30", "EUR")),
        total_discounts="2.68",
        total_discounts_set=money(("20.00", "DKK"), ("2.68", "EUR")),
    )


# --- money ------------------------------------------------------------------------------------


def test_a_multi_currency_order_counts_in_shop_money() -> None:
    event = order(multi_currency_order())
    assert (event.total, event.currency) == (Decimal("405.00"), "DKK")
    assert event.discount_total == Decimal("20.00")


def test_the_configured_currency_picks_its_side_of_the_set() -> None:
    event = order(multi_currency_order(), currency="EUR")
    assert (event.total, event.currency) == (Decimal("54.30"), "EUR")
    assert event.discount_total == Decimal("2.68")


def test_a_currency_neither_side_is_in_keeps_shop_money_to_be_reported_apart() -> None:
    event = order(multi_currency_order(), currency="SEK")
    assert (event.total, event.currency) == (Decimal("405.00"), "DKK")


def test_a_checkout_in_the_buyer_s_currency_has_no_store_value_without_a_set() -> None:
    payload = sample("checkouts_create.json")
    payload.update(currency="DKK", presentment_currency="EUR", total_price="50.00")
    [cart] = [e for e in events("checkouts/update", payload) if isinstance(e, CartUpdated)]
    assert (cart.total, cart.currency) == (Decimal("50.00"), "EUR")  # what the buyer saw
    assert (cart.store_currency, cart.store_total) == ("DKK", None)  # unknown, not guessed


def test_a_checkout_with_a_set_has_its_value_in_the_store_s_currency() -> None:
    payload = sample("checkouts_create.json")
    payload.update(
        currency="DKK",
        presentment_currency="EUR",
        total_price="50.00",
        total_price_set=money(("372.95", "DKK"), ("50.00", "EUR")),
    )
    payload["line_items"][0]["price_set"] = money(("74.59", "DKK"), ("10.00", "EUR"))
    [cart] = [e for e in events("checkouts/update", payload) if isinstance(e, CartUpdated)]
    assert (cart.store_currency, cart.store_total) == ("DKK", Decimal("372.95"))
    assert cart.items[0].price == Decimal("10.00")  # the line in the cart's (buyer's) currency


def test_a_checkout_in_the_shop_currency_names_no_other() -> None:
    [cart] = [
        e
        for e in events("checkouts/create", sample("checkouts_create.json"))
        if isinstance(e, CartUpdated)
    ]
    assert (cart.currency, cart.store_currency, cart.store_total) == ("USD", None, None)


# --- status -----------------------------------------------------------------------------------


def test_the_sample_cancelled_order_is_cancelled_and_a_test() -> None:
    event = order(sample("orders_cancelled.json"), topic="orders/cancelled")
    assert (event.status, event.reason, event.test) == (OrderStatus.CANCELLED, "customer", True)
    assert (event.total, event.currency) == (Decimal("404.95"), "USD")
    assert event.refunds == ()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, OrderStatus.OPEN),
        ({"financial_status": "partially_refunded"}, OrderStatus.OPEN),
        ({"financial_status": "voided"}, OrderStatus.VOIDED),
        ({"financial_status": "refunded"}, OrderStatus.REFUNDED),
        (
            {"cancelled_at": "2026-04-02T10:00:00Z", "financial_status": "refunded"},
            OrderStatus.CANCELLED,
        ),
    ],
)
def test_order_status(changes: dict[str, Any], expected: OrderStatus) -> None:
    event = order(live_order(**changes), topic="orders/updated")
    assert event.status == expected and event.test is False


def test_an_updated_order_carries_its_refunds_once_each() -> None:
    refund = sample("refunds_create.json")
    payload = live_order(financial_status="partially_refunded", refunds=[refund])
    event = order(payload, topic="orders/updated")
    assert event.refunds == (Refund("890088186047892400", Decimal("85.00"), "USD"),)


# --- refunds ----------------------------------------------------------------------------------


def test_refunds_create_sums_the_successful_refund_transactions() -> None:
    [change] = events("refunds/create", sample("refunds_create.json"))
    assert isinstance(change, OrderChanged)
    assert change.order_key == "820982911946154500"
    assert change.source == "shopify:refunds/create"
    assert change.refunds == (Refund("890088186047892400", Decimal("85.00"), "USD"),)
    assert change.status is None and change.occurred_at == datetime(2022, 1, 1, tzinfo=UTC)


def test_failed_and_non_refund_transactions_are_not_money_back() -> None:
    refund = sample("refunds_create.json")
    refund["transactions"][0]["status"] = "failure"
    refund["transactions"].append({**refund["transactions"][1], "kind": "sale"})
    [change] = events("refunds/create", refund)
    assert isinstance(change, OrderChanged)
    assert change.refunds[0].amount == Decimal("10.00")


def test_a_refund_that_paid_nothing_back_changes_nothing() -> None:
    refund = sample("refunds_create.json")
    refund["transactions"] = []
    assert events("refunds/create", refund) == []


def test_a_refund_in_the_buyer_s_currency_is_converted_at_the_refund_s_own_rate() -> None:
    refund = copy.deepcopy(sample("refunds_create.json"))
    for line in refund["refund_line_items"]:
        line["subtotal_set"] = money(("600.00", "DKK"), ("80.45", "EUR"))
    refund["transactions"] = [
        {**refund["transactions"][0], "amount": "40.22", "currency": "EUR"},
    ]
    [change] = events("refunds/create", refund)
    assert isinstance(change, OrderChanged)
    # 40.22 EUR at 600.00 DKK / 80.45 EUR, rounded to øre.
    assert change.refunds == (Refund("890088186047892400", Decimal("299.96"), "DKK"),)
    # A store that reports in the buyer's currency keeps the refund as paid.
    [kept] = events("refunds/create", refund, currency="EUR")
    assert isinstance(kept, OrderChanged)
    assert kept.refunds == (Refund("890088186047892400", Decimal("40.22"), "EUR"),)


# --- where the phone came from ----------------------------------------------------------------


def test_an_invalid_number_is_kept_with_its_field() -> None:
    payload = sample("checkouts_create.json")
    payload["billing_address"]["phone"] = "+45 2012 345"
    [cart] = [e for e in events("checkouts/update", payload) if isinstance(e, CartUpdated)]
    customer = cart.customer
    assert (customer.phone, customer.phone_raw) == (None, "+45 2012 345")
    assert customer.phone_source == "billing_address.phone"


def test_a_placeholder_is_passed_over_for_a_real_number_further_down() -> None:
    payload = sample("checkouts_create.json")  # billing: 555-555-BILL
    payload["shipping_address"]["phone"] = "+45 20 12 34 56"
    [cart] = [e for e in events("checkouts/update", payload) if isinstance(e, CartUpdated)]
    assert cart.customer.phone == "+4520123456"
    assert cart.customer.phone_source == "shipping_address.phone"


def test_the_number_given_for_sms_names_its_field() -> None:
    payload = sample("checkouts_create.json")
    payload["sms_marketing_phone"] = "+4520123456"
    [cart] = [e for e in events("checkouts/update", payload) if isinstance(e, CartUpdated)]
    assert (cart.customer.phone, cart.customer.phone_source) == (
        "+4520123456",
        "sms_marketing_phone",
    )
