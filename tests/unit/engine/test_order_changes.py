"""Orders that are not revenue, and orders that stop being (all) revenue after they recovered a
cart: the report follows and the cart's timeline says so in words."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from cartback.domain.events import OrderChanged
from cartback.domain.orders import OrderStatus, Refund
from cartback.domain.records import CartStatus, RunStatus
from tests.integration.conftest import CONFIG, DOMAIN, SECRET, TOKEN
from tests.unit.engine.rig import Rig, make_rig


@pytest.fixture
def rig() -> Rig:
    return make_rig(CONFIG.format(db_url="{db_url}", token=TOKEN, domain=DOMAIN, secret=SECRET))


def recovered(rig: Rig, total: str = "404.95") -> None:
    """Cart c1 gets its SMS, then order o1 comes: recovered, attributed to the send."""
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    assert len(rig.sms.sent) == 1
    rig.clock.advance(timedelta(hours=1))
    rig.order("acme", "o1", cart_key="c1", total=total)
    report = rig.report("acme")
    assert (report.orders_recovered, report.recovered_revenue) == (1, Decimal(total))


def change(rig: Rig, **fields: Any) -> None:
    event = OrderChanged("acme", "o1", rig.clock.now(), "test:order", **fields)
    rig.deliver("acme", event)


def order_lines(rig: Rig) -> list[str]:
    return [entry.detail for entry in rig.decisions("acme", "c1") if entry.action == "order"]


def test_a_refund_after_recovery_lowers_the_report_once(rig: Rig) -> None:
    recovered(rig)
    change(rig, refunds=(Refund("r1", Decimal("75.00")),))
    change(rig, refunds=(Refund("r1", Decimal("75.00")),))  # told again: counted once
    report = rig.report("acme")
    assert (report.orders_recovered, report.recovered_revenue) == (1, Decimal("329.95"))
    assert report.roas == Decimal("1099.83")
    assert order_lines(rig) == [
        "Order o1 was refunded 75.00 USD. "
        "Recovered revenue from it is now 329.95 USD (was 404.95 USD)."
    ]
    story = rig.story("acme", "c1")
    assert story.order is not None and story.order.refunded == Decimal("75.00")
    [line] = [e.detail for e in story.timeline if e.kind == "order"]
    assert line == "Order o1: 404.95 USD, recovered (send), 75.00 USD refunded."


def test_a_cancellation_takes_the_order_out_of_the_report(rig: Rig) -> None:
    recovered(rig)
    change(rig, status=OrderStatus.CANCELLED, reason="customer")
    report = rig.report("acme")
    assert (report.orders_recovered, report.recovered_revenue) == (0, Decimal("0.00"))
    assert order_lines(rig) == [
        "Order o1 was cancelled (customer). "
        "It no longer counts as recovered revenue (was 404.95 USD)."
    ]
    assert rig.found("acme", "c1").status == CartStatus.PURCHASED  # still closed


def test_refunds_in_full_take_it_out_too(rig: Rig) -> None:
    recovered(rig, total="100.00")
    change(rig, refunds=(Refund("r1", Decimal("60.00")), Refund("r2", Decimal("40.00"))))
    report = rig.report("acme")
    assert (report.orders_recovered, report.recovered_revenue) == (0, Decimal("0.00"))
    assert order_lines(rig) == [
        "Order o1 was refunded 60.00 USD and was refunded 40.00 USD. "
        "It no longer counts as recovered revenue (was 100.00 USD)."
    ]


@pytest.mark.parametrize(
    ("fields", "note"),
    [
        ({"test": True}, "a test order"),
        ({"status": OrderStatus.VOIDED}, "voided"),
        ({"status": OrderStatus.CANCELLED}, "cancelled"),
    ],
)
def test_an_order_that_is_not_revenue_closes_the_cart_all_the_same(
    rig: Rig, fields: dict[str, object], note: str
) -> None:
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    rig.order("acme", "o1", cart_key="c1", **fields)
    assert rig.found("acme", "c1").status == CartStatus.PURCHASED
    assert rig.run("acme", "c1").status == RunStatus.CANCELLED
    assert rig.advance(timedelta(days=2)) == 0 and len(rig.sms.sent) == 1  # no more reminders
    report = rig.report("acme")
    assert (report.orders_recovered, report.recovered_revenue) == (0, Decimal("0.00"))
    cancelled = rig.decision("acme", "c1", "purchased")
    assert f"Order o1 was placed ({note}" in cancelled.detail
    assert "not counted as recovered revenue" in cancelled.detail


def test_the_same_order_delivered_again_changes_it_but_never_reopens_it(rig: Rig) -> None:
    recovered(rig)
    rig.order("acme", "o1", cart_key="c1", status=OrderStatus.CANCELLED, reason="fraud")
    rig.order("acme", "o1", cart_key="c1")  # an older delivery, late: still open there
    report = rig.report("acme")
    assert report.orders_recovered == 0
    assert order_lines(rig) == [
        "Order o1 was cancelled (fraud). It no longer counts as recovered revenue (was 404.95 USD)."
    ]


def test_a_refund_in_a_currency_the_order_is_not_in_is_not_subtracted(rig: Rig) -> None:
    recovered(rig)
    change(rig, refunds=(Refund("r1", Decimal("10.00"), "EUR"),))
    assert rig.report("acme").recovered_revenue == Decimal("404.95")
    assert order_lines(rig) == [
        "Order o1 was refunded 10.00 EUR, which is not in the order's currency (USD) and is "
        "not counted. Recovered revenue from it stays 404.95 USD."
    ]


def test_a_change_to_an_order_nobody_knows_is_ignored(rig: Rig) -> None:
    change(rig, status=OrderStatus.CANCELLED)
    with rig.store.reading() as tx:
        assert tx.orders.find("acme", "o1") is None


def test_an_unattributed_order_s_refund_leaves_the_report_as_it_was(rig: Rig) -> None:
    rig.cart("acme", "c1")
    rig.order("acme", "o1", cart_key="c1")  # before any message: not recovered
    change(rig, refunds=(Refund("r1", Decimal("5.00")),))
    assert order_lines(rig) == [
        "Order o1 was refunded 5.00 USD. "
        "It was not attributed to a message, so recovered revenue is unchanged."
    ]


def test_orders_in_another_currency_are_reported_apart(rig: Rig) -> None:
    recovered(rig)
    rig.cart("acme", "c2", email="bob@example.com", phone="+4520123457")
    rig.advance(timedelta(minutes=30))
    rig.order("acme", "o2", cart_key="c2", email="bob@example.com", total="3000", currency="DKK")
    report = rig.report("acme")
    assert (report.orders_recovered, report.recovered_revenue) == (1, Decimal("404.95"))
    assert {code: (o.orders, o.revenue) for code, o in report.other_currencies.items()} == {
        "DKK": (1, Decimal("3000.00"))
    }
