"""Orders that are not (or no longer all) revenue, and carts valued in the store's currency."""

from __future__ import annotations

from decimal import Decimal

from cartback.domain.orders import OrderStatus
from cartback.domain.records import Purchase
from cartback.engine.segment_facts import basket_value
from cartback.store.base import Store
from tests.contract.records import HOUR, T0, message, new_cart, order

ANN = "ann@example.com"


def test_an_order_keeps_its_status_test_flag_and_refunds(store: Store) -> None:
    with store.transaction() as tx:
        added = tx.orders.add(
            order(
                status=OrderStatus.CANCELLED,
                test=True,
                refunds={"r1": Decimal("10.50"), "r2": Decimal("0.25")},
            )
        )
    with store.reading() as tx:
        found = tx.orders.find("acme", added.order_key)
    assert found == added
    assert found is not None and (found.status, found.test) == (OrderStatus.CANCELLED, True)
    assert found.refunds == {"r1": Decimal("10.50"), "r2": Decimal("0.25")}
    assert found.refunded == Decimal("10.75")


def test_changing_an_order_replaces_what_is_named_and_keeps_the_rest(store: Store) -> None:
    with store.transaction() as tx:
        added = tx.orders.add(order(paid=True, refunds={"r1": Decimal("5")}))
        tx.orders.change(added.id, refunds={"r1": Decimal("5"), "r2": Decimal("7.5")})
        tx.orders.change(added.id, status=OrderStatus.REFUNDED)
    with store.reading() as tx:
        found = tx.orders.find("acme", added.order_key)
    assert found is not None
    assert (found.status, found.test, found.paid) == (OrderStatus.REFUNDED, False, True)
    assert found.refunds == {"r1": Decimal("5"), "r2": Decimal("7.5")}
    assert found.refunded == Decimal("12.5")


def test_a_persons_purchases_leave_out_what_is_not_revenue(store: Store) -> None:
    with store.transaction() as tx:
        tx.orders.add(order(email=ANN, placed_at=T0, total=Decimal("100")))
        tx.orders.add(order(email=ANN, total=Decimal("50"), refunds={"r": Decimal("20")}))
        tx.orders.add(order(email=ANN, status=OrderStatus.CANCELLED))
        tx.orders.add(order(email=ANN, test=True))
        tx.orders.add(order(email=ANN, total=Decimal("30"), refunds={"r": Decimal("30")}))
        tx.orders.add(order(email=ANN, status=OrderStatus.VOIDED, placed_at=T0 + 9 * HOUR))
    with store.reading() as tx:
        purchases = sorted(tx.orders.purchases("acme", ANN, None), key=lambda p: p.placed_at)
        # Closing carts is another matter: any order, even a test, counts as ordering.
        assert tx.orders.ordered_since("acme", ANN, None, T0 + 9 * HOUR)
    assert purchases == [
        Purchase(Decimal("100"), T0, "DKK"),
        Purchase(Decimal("30"), T0 + HOUR, "DKK"),
    ]


def test_the_report_counts_only_revenue_net_of_refunds(store: Store) -> None:
    with store.transaction() as tx:
        carts = [new_cart(tx, currency="USD") for _ in range(6)]
        won = [message(cart, currency="USD", created_at=T0) for cart in carts]
        for each in won:
            tx.messages.add(each)

        def recovered(index: int, **changes: object) -> None:
            cart, by = carts[index], won[index]
            tx.orders.add(order(cart, recovered=True, attributed_message_id=by.id, **changes))

        recovered(0, total=Decimal("100.00"))
        recovered(1, total=Decimal("80.00"), refunds={"r1": Decimal("25.50")})
        recovered(2, total=Decimal("60.00"), status=OrderStatus.CANCELLED)
        recovered(3, total=Decimal("40.00"), test=True)
        recovered(4, total=Decimal("20.00"), refunds={"r1": Decimal("20.00")})
        recovered(5, total=Decimal("700"), currency="JPY")
    with store.reading() as tx:
        figures = tx.reports.figures("acme", "USD", None)
        activity = tx.reports.activity(["acme"], None)
    assert figures.orders_recovered == 2
    assert figures.recovered_revenue == Decimal("154.50")
    assert {code: (o.orders, o.revenue) for code, o in figures.other_currencies.items()} == {
        "JPY": (1, Decimal("700"))
    }
    assert sorted(total for _at, total in activity.revenue) == [
        Decimal("0.00"),
        Decimal("54.50"),
        Decimal("100.00"),
        Decimal("700"),
    ]


def test_without_a_configured_currency_the_store_s_is_that_of_most_of_its_orders(
    store: Store,
) -> None:
    with store.transaction() as tx:
        cart = new_cart(tx, currency="EUR")
        for currency in ("DKK", "DKK", "EUR"):
            tx.orders.add(order(cart, currency=currency, recovered=True))
    with store.reading() as tx:
        figures = tx.reports.figures("acme", None, None)
    assert figures.currency == "DKK" and figures.orders_recovered == 2
    assert list(figures.other_currencies) == ["EUR"]


def test_a_cart_keeps_its_value_in_the_store_s_currency_and_its_phone_s_field(
    store: Store,
) -> None:
    with store.transaction() as tx:
        cart = new_cart(
            tx,
            currency="EUR",
            total=Decimal("50.00"),
            store_currency="DKK",
            store_total=Decimal("372.9500"),
            phone=None,
            phone_raw="+45 2012",
            phone_source="billing_address.phone",
        )
    with store.reading() as tx:
        found = tx.carts.get(cart.id)
    assert found is not None
    assert (found.store_currency, found.store_total) == ("DKK", Decimal("372.9500"))
    assert basket_value(found) == (Decimal("372.9500"), "DKK")
    assert found.phone_source == "billing_address.phone"
