"""Honest money through Shopify's webhooks, on SQLite and PostgreSQL: shop money for a
multi-currency order, test and voided orders that close carts but earn nothing, refunds and
cancellations after a recovery, other currencies apart, and amounts that read the same."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

from tests.conftest import FIXTURES
from tests.integration.conftest import Shop

REFUND: dict[str, Any] = json.loads((FIXTURES / "shopify" / "refunds_create.json").read_text())


def money(shop_amount: str, shop_code: str, shown: str, shown_code: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": shop_amount, "currency_code": shop_code},
        "presentment_money": {"amount": shown, "currency_code": shown_code},
    }


def recovered_cart(shop: Shop, **order: Any) -> dict[str, Any]:
    """A checkout that gets its SMS, then its order (attributed to the send)."""
    checkout = shop.checkout()
    assert shop.advance(timedelta(minutes=30)) == 1
    shop.clock.advance(timedelta(hours=1))
    return shop.order(checkout, **order)


def report(shop: Shop) -> Any:
    return shop.api("/api/report", store="acme")


def order_lines(shop: Shop, cart_id: int = 1) -> list[str]:
    timeline = shop.cart(cart_id)["timeline"]
    return [e["detail"] for e in timeline if e["kind"] == "decision" and e["action"] == "order"]


def test_a_multi_currency_order_is_counted_in_shop_money(shop: Shop) -> None:
    recovered_cart(
        shop,
        currency="USD",
        presentment_currency="EUR",
        total_price="372.25",  # older payloads: the buyer's figure
        total_price_set=money("404.95", "USD", "372.25", "EUR"),
        total_discounts_set=money("20.00", "USD", "18.40", "EUR"),
    )
    figures = report(shop)
    assert (figures["recovered_revenue"], figures["currency"]) == ("404.95", "USD")
    assert figures["other_currencies"] == {}
    order = shop.cart()["order"]
    assert (order["total"], order["currency"], order["revenue"]) == ("404.95", "USD", "404.95")


def test_test_and_voided_orders_close_the_cart_but_do_not_count(shop: Shop) -> None:
    for number, order in enumerate(({"test": True}, {"financial_status": "voided"}), start=1):
        person = {"sms_marketing_phone": f"+452012345{number}", "email": f"p{number}@example.com"}
        checkout = shop.checkout(token=f"t{number}", **person)
        shop.advance(timedelta(minutes=30))
        shop.clock.advance(timedelta(minutes=10))
        shop.order(checkout, **order, email=person["email"])
    assert shop.advance(timedelta(days=2)) == 0  # no more reminders for either
    for cart_id, word in ((1, "a test order"), (2, "voided")):
        cart = shop.cart(cart_id)
        assert cart["status"] == "purchased" and cart["run"]["status"] == "cancelled"
        assert cart["order"]["revenue"] == "0.00"
        [closed] = [e for e in cart["timeline"] if e["reason"] == "purchased"]
        assert f"was placed ({word}" in closed["detail"]
    figures = report(shop)
    assert (figures["orders_recovered"], figures["recovered_revenue"]) == (0, "0.00")
    assert figures["messages_sent"] == 2 and figures["spend"] == "0.60"


def test_a_refund_after_recovery_lowers_the_report_and_a_cancellation_removes_it(
    shop: Shop,
) -> None:
    order = recovered_cart(shop)
    before = report(shop)
    assert (before["recovered_revenue"], before["roas"]) == ("404.95", "1349.83")

    shop.clock.advance(timedelta(days=3))
    refund = copy.deepcopy(REFUND)
    refund["order_id"] = order["id"]
    assert shop.post("refunds/create", refund).status_code == 200
    after_refund = report(shop)
    assert (after_refund["orders_recovered"], after_refund["recovered_revenue"]) == (1, "319.95")
    assert after_refund["roas"] == "1066.50"

    # Shopify tells of the same refund again on the order; it counts once.
    partly = {**order, "financial_status": "partially_refunded", "refunds": [refund]}
    assert shop.post("orders/updated", partly).status_code == 200
    assert report(shop)["recovered_revenue"] == "319.95"

    cancelled = {
        **partly,
        "cancelled_at": shop.clock.now().isoformat(),
        "cancel_reason": "customer",
    }
    assert shop.post("orders/cancelled", cancelled).status_code == 200
    after_cancel = report(shop)
    assert (after_cancel["orders_recovered"], after_cancel["recovered_revenue"]) == (0, "0.00")
    assert after_cancel["roas"] == "0.00"

    key = order["id"]
    assert order_lines(shop) == [
        f"Order {key} was refunded 85.00 USD. Recovered revenue from it is now 319.95 USD "
        "(was 404.95 USD).",
        f"Order {key} was cancelled (customer). It no longer counts as recovered revenue "
        "(was 319.95 USD).",
    ]
    timeline = shop.cart()["timeline"]
    placed = [i for i, e in enumerate(timeline) if e["kind"] == "order"]
    changed = [i for i, e in enumerate(timeline) if e.get("action") == "order"]
    assert placed[0] < changed[0]  # the sample refund's own date (2021) is before the order
    assert shop.cart()["order"]["status"] == "cancelled"
    assert shop.cart()["order"]["refunded"] == "85.00"


def test_an_order_in_a_currency_that_is_not_the_store_s_is_reported_apart(shop: Shop) -> None:
    recovered_cart(
        shop,
        currency="DKK",
        presentment_currency="DKK",
        total_price="3000.00",
        total_price_set=money("3000.00", "DKK", "3000.00", "DKK"),
    )
    figures = report(shop)
    assert figures["currency"] == "USD"  # the store's configured currency
    assert (figures["orders_recovered"], figures["recovered_revenue"]) == (0, "0.00")
    assert figures["other_currencies"] == {"DKK": {"orders": 1, "revenue": "3000.00"}}
    assert figures["stores"][0]["other_currencies"] == figures["other_currencies"]


def test_amounts_read_the_same_on_every_database(shop: Shop) -> None:
    recovered_cart(shop)
    figures = report(shop)
    # PostgreSQL's NUMERIC(18,4) gives 0.3000 and 404.9500; the answer has the currency's cents.
    assert figures["spend"] == "0.30" and figures["recovered_revenue"] == "404.95"
    assert figures["discount_cost"] == "0.00" and figures["roas"] == "1349.83"
    cart = shop.cart()
    assert cart["total"] == "421.88" and cart["messages"][0]["cost"] == "0.30"
    assert cart["order"]["total"] == "404.95"
    [message] = shop.api("/api/messages")
    assert message["cost"] == "0.30"
    [listed] = shop.api("/api/carts")
    assert listed["total"] == "421.88"
