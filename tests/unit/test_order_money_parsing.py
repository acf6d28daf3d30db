"""Orders' money, status and refunds as Magento and the generic format send them (Shopify's are
in test_shopify_orders.py, WooCommerce's in test_woocommerce.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cartback.domain.events import CartUpdated, Event, OrderChanged, OrderPlaced
from cartback.domain.orders import WHOLE_ORDER, OrderStatus, Refund
from cartback.integrations import generic, magento
from tests.conftest import FIXTURES

RECEIVED = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


# --- Magento ----------------------------------------------------------------------------------


def magento_order(store_currency: str | None = None, **changes: Any) -> OrderPlaced:
    data: dict[str, Any] = json.loads((FIXTURES / "magento" / "order.json").read_text())
    data.update(changes)
    body = json.dumps({"order": data}).encode()
    store = magento.MagentoStore("shop", "DK", None, store_currency)
    [event] = magento.parse(magento.ORDER_TOPIC, body, store, RECEIVED)
    assert isinstance(event, OrderPlaced)
    return event


def euro_order(store_currency: str | None = None) -> OrderPlaced:
    """A store whose base currency is DKK, an order the buyer paid in euros."""
    return magento_order(
        store_currency,
        base_currency_code="DKK",
        base_grand_total="3392.25",
        base_discount_amount="-74.55",
        order_currency_code="EUR",
        grand_total="455.00",
        discount_amount="-10",
    )


def test_a_magento_order_counts_in_its_base_currency() -> None:
    event = euro_order()
    assert (event.total, event.currency, event.discount_total) == (
        Decimal("3392.25"),
        "DKK",
        Decimal("74.55"),
    )


def test_a_magento_store_configured_in_the_order_currency_reads_that_side() -> None:
    event = euro_order("EUR")
    assert (event.total, event.currency, event.discount_total) == (
        Decimal("455.00"),
        "EUR",
        Decimal("10"),
    )


def test_a_magento_store_in_neither_currency_keeps_the_base_side() -> None:
    assert euro_order("SEK").currency == "DKK"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("new", OrderStatus.OPEN),
        ("processing", OrderStatus.OPEN),
        ("canceled", OrderStatus.CANCELLED),
        ("closed", OrderStatus.REFUNDED),
    ],
)
def test_magento_order_states(state: str, expected: OrderStatus) -> None:
    assert magento_order(state=state).status == expected


def test_magento_total_refunded_is_one_running_figure() -> None:
    event = magento_order(total_refunded="55.00")
    assert event.refunds == (Refund(WHOLE_ORDER, Decimal("55.00"), "USD"),)


def test_a_magento_cart_in_another_currency_has_its_base_value() -> None:
    cart: dict[str, Any] = json.loads((FIXTURES / "magento" / "cart_get_mine.json").read_text())
    cart["currency"] = {
        **cart["currency"],
        "quote_currency_code": "EUR",
        "base_currency_code": "DKK",
    }
    totals = {"grand_total": "50.00", "base_grand_total": "372.95", "base_currency_code": "DKK"}
    [event] = magento.parse_cart(
        cart,
        totals,
        store_id="shop",
        default_country="DK",
        recovery_url_template=None,
        received_at=RECEIVED,
    )
    assert isinstance(event, CartUpdated)
    assert (event.total, event.currency) == (Decimal("50.00"), "EUR")
    assert (event.store_currency, event.store_total) == ("DKK", Decimal("372.95"))


# --- the generic format -----------------------------------------------------------------------


def generic_event(payload: dict[str, Any], currency: str | None = None) -> Event:
    body = json.dumps(payload).encode()
    [event] = generic.parse(
        body,
        "application/json",
        store_id="s",
        default_country="DK",
        received_at=RECEIVED,
        currency=currency,
    )
    return event


def order_placed(**order: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / "generic" / "order_placed.json").read_text())
    payload["order"].update(order)
    return payload


def test_a_generic_order_may_say_it_is_not_revenue() -> None:
    event = generic_event(order_placed(status="voided", test=True, refunded="10.00"))
    assert isinstance(event, OrderPlaced)
    assert (event.status, event.test) == (OrderStatus.VOIDED, True)
    assert event.refunds == (Refund(WHOLE_ORDER, Decimal("10.00"), "DKK"),)


def test_a_generic_order_is_open_unless_it_says_otherwise() -> None:
    event = generic_event(order_placed())
    assert isinstance(event, OrderPlaced)
    assert (event.status, event.test, event.refunds) == (OrderStatus.OPEN, False, ())


def test_a_generic_order_in_the_buyer_s_currency_reports_its_store_total() -> None:
    payload = order_placed(currency="EUR", total="60.25", store_total="449.10")
    event = generic_event(payload, currency="DKK")
    assert isinstance(event, OrderPlaced)
    assert (event.total, event.currency) == (Decimal("449.10"), "DKK")
    without = generic_event(order_placed(currency="EUR", total="60.25"), currency="DKK")
    assert isinstance(without, OrderPlaced)
    assert (without.total, without.currency) == (Decimal("60.25"), "EUR")  # reported apart


def test_a_generic_cart_in_the_buyer_s_currency() -> None:
    payload: dict[str, Any] = json.loads((FIXTURES / "generic" / "cart_updated.json").read_text())
    payload["cart"].update(currency="EUR", total="67.00", store_total="499.00")
    event = generic_event(payload, currency="DKK")
    assert isinstance(event, CartUpdated)
    assert (event.store_currency, event.store_total) == ("DKK", Decimal("499.00"))
    assert event.customer.phone_source == "customer.phone"


def test_generic_order_updated() -> None:
    payload = json.loads((FIXTURES / "generic" / "order_updated.json").read_text())
    event = generic_event(payload)
    assert event == OrderChanged(
        store_id="s",
        order_key="o-1001",
        occurred_at=datetime(2026, 12, 2, 9, 15, tzinfo=UTC),
        source="generic:order.updated",
        status=OrderStatus.CANCELLED,
        refunds=(Refund(WHOLE_ORDER, Decimal("449.10")),),
    )


def test_generic_order_refunded() -> None:
    payload = json.loads((FIXTURES / "generic" / "order_refunded.json").read_text())
    event = generic_event(payload)
    assert isinstance(event, OrderChanged)
    assert (event.order_key, event.status) == ("o-1001", None)
    assert event.refunds == (Refund("rf-1", Decimal("100.00")),)


def test_a_generic_status_outside_the_schema_is_named() -> None:
    with pytest.raises(generic.PayloadError, match=r"order\.status"):
        generic_event(order_placed(status="shipped"))
