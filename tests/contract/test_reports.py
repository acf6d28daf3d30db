"""A store's report figures: what was abandoned, sent, spent and won back."""

from __future__ import annotations

from decimal import Decimal

from cartback.domain.records import CartStatus, MessageStatus
from cartback.store.base import Store
from tests.contract.records import HOUR, T0, decision, message, new_cart, order


def _world(store: Store) -> None:
    """Two stores; acme has three abandoned carts (one before T0), messages in every state."""
    with store.transaction() as tx:
        carts = [new_cart(tx, currency="USD") for _ in range(4)]
        for cart, at in zip(carts, (T0 - HOUR, T0, T0 + HOUR), strict=False):
            tx.carts.change(cart.id, status=CartStatus.ABANDONED, abandoned_at=at)
        b = new_cart(tx, store_id="b")
        tx.carts.change(b.id, status=CartStatus.ABANDONED, abandoned_at=T0)
        one, two, three = carts[:3]
        sent = [
            message(one, status=MessageStatus.SENT, cost=Decimal("0.30"), created_at=T0),
            message(
                two,
                status=MessageStatus.DELIVERED,
                cost=Decimal("0.60"),
                segments=2,
                provider_segments=3,
                created_at=T0 + HOUR,
                discount_code="SAVE10",
            ),
            message(
                three,
                channel="rcs",
                channel_used="sms",
                status=MessageStatus.DELIVERED,
                segments=1,
                cost=Decimal("0.0500"),
                created_at=T0 + HOUR,
            ),
            message(three, channel="email", status=MessageStatus.SENT, cost=Decimal("0")),
            message(one, status=MessageStatus.SENT, created_at=T0 - HOUR),  # before `since`
            message(one, status=MessageStatus.FAILED),
            message(one, status=MessageStatus.QUEUED),
            message(b, status=MessageStatus.SENT),
        ]
        for each in sent:
            tx.messages.add(each)
        tx.orders.add(
            order(one, total=Decimal("100.10"), recovered=True, attributed_message_id=sent[0].id)
        )
        tx.orders.add(
            order(
                two,
                total=Decimal("50.00"),
                discount_total=Decimal("5.00"),
                recovered=True,
                attributed_message_id=sent[1].id,
            )
        )
        tx.orders.add(order(three, total=Decimal("999"), discount_total=Decimal("9")))
        tx.orders.add(order(one, total=Decimal("7"), recovered=True, placed_at=T0 - 2 * HOUR))
        tx.orders.add(order(b, total=Decimal("1"), recovered=True))
        for cart, action, reason in (
            (one, "skip", "no_consent"),
            (two, "skip", "no_consent"),
            (three, "cancel", "purchased"),
            (three, "defer", "quiet_hours"),
            (three, "send", "ok"),
            (b, "skip", "no_consent"),
        ):
            tx.decisions.add(decision(cart, action=action, reason=reason, at=T0))
        tx.decisions.add(decision(one, action="skip", reason="cooldown", at=T0 - HOUR))


def test_the_figures_of_a_store_since_a_moment(store: Store) -> None:
    _world(store)
    with store.reading() as tx:
        figures = tx.reports.figures("acme", "USD", T0)
    assert figures.store_id == "acme" and figures.currency == "USD"
    assert figures.carts_abandoned == 2
    assert (figures.messages_sent, figures.messages_delivered) == (4, 2)
    assert figures.sms_segments == 1 + 3 + 1  # the gateway's count where it gave one
    assert figures.spend == Decimal("0.95")
    assert figures.orders_recovered == 2
    assert figures.recovered_revenue == Decimal("150.10")
    assert figures.discount_cost == Decimal("5.00")
    assert figures.skipped == {"no_consent": 2, "purchased": 1}


def test_the_figures_of_all_time(store: Store) -> None:
    _world(store)
    with store.reading() as tx:
        figures = tx.reports.figures("acme", None, None)
        empty = tx.reports.figures("nowhere", None, None)
    assert figures.currency == "USD"  # its orders' own, when the config names none
    assert figures.carts_abandoned == 3
    assert figures.messages_sent == 5 and figures.spend == Decimal("1.25")
    assert figures.orders_recovered == 3 and figures.recovered_revenue == Decimal("157.10")
    assert figures.skipped == {"no_consent": 2, "purchased": 1, "cooldown": 1}
    assert empty.currency is None and empty.carts_abandoned == empty.messages_sent == 0
    assert empty.spend == Decimal("0") and empty.skipped == {}
