"""Orders that change after they were placed: cancelled, voided, refunded, found to be a test.

The change is written to the stored order in the ingest transaction and, when the order closed a
cart, told in that cart's timeline in words: what happened, and what it does to the report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from cartback.domain.events import OrderChanged, OrderPlaced
from cartback.domain.orders import (
    WHOLE_ORDER,
    OrderStatus,
    Refund,
    merge_refunds,
    revenue,
    words,
)
from cartback.domain.records import DecisionAction, DecisionEntry, Order
from cartback.store.base import OrderChanges, Tx

log = logging.getLogger("cartback.ingest")

FULL_ORDER = "order"  # the source of a change read from a full order delivered again

_STATUS_WORDS = {
    OrderStatus.OPEN: "is open again",
    OrderStatus.CANCELLED: "was cancelled",
    OrderStatus.VOIDED: "was voided (its payment was released)",
    OrderStatus.REFUNDED: "was refunded in full",
    OrderStatus.FAILED: "failed (its payment did not go through)",
}


def from_placed(event: OrderPlaced) -> OrderChanged:
    """A known order delivered again in full (Shopify `orders/updated`, WooCommerce
    `order.updated`): what it says now. Such a delivery may be older than one already applied,
    so it never reopens an order nor clears its test flag; refunds are kept once by key."""
    return OrderChanged(
        store_id=event.store_id,
        order_key=event.order_key,
        occurred_at=event.occurred_at,
        source=FULL_ORDER,
        status=None if event.status == OrderStatus.OPEN else event.status,
        test=True if event.test else None,
        refunds=event.refunds,
        reason=event.reason,
    )


def not_revenue_note(event: OrderPlaced) -> str:
    """For the timeline line of an order that closes a cart but earns nothing."""
    if event.test:
        return " (a test order: not counted as recovered revenue)"
    if event.status != OrderStatus.OPEN:
        return f" ({event.status}: not counted as recovered revenue)"
    return ""


def refunds_in(refunds: Iterable[Refund], currency: str) -> dict[str, Decimal]:
    """The refunds that are in the order's currency, by key; others cannot be subtracted."""
    kept = {}
    for refund in refunds:
        if refund.currency in (None, currency):
            kept[refund.key] = refund.amount
        else:
            log.warning(
                "refund in another currency than its order",
                extra={"refund_currency": refund.currency, "order_currency": currency},
            )
    return kept


def apply(tx: Tx, event: OrderChanged, now: datetime) -> None:
    order = tx.orders.find(event.store_id, event.order_key)
    if order is None:
        log.info("change of an unknown order", extra={"store": event.store_id})
        return
    changes, said = _changes(order, event)
    if not said:
        return
    if changes:
        tx.orders.change(order.id, **changes)
    if order.cart_id is None:
        return
    after = replace(order, **changes)
    detail = f"Order {order.order_key} {' and '.join(said)}. {_effect(order, after)}"
    tx.decisions.add(
        DecisionEntry(
            cart_id=order.cart_id,
            at=_when(order, event, now),
            action=DecisionAction.ORDER,
            reason=_reason(changes),
            detail=detail,
        )
    )


def _when(order: Order, event: OrderChanged, now: datetime) -> datetime:
    """When the change happened, as the shop says; when we learned of it when the shop's time is
    that of the order itself (a full order delivered again), before it (a skewed clock), or
    still to come."""
    if event.source == FULL_ORDER or event.occurred_at <= order.placed_at:
        return now
    return min(event.occurred_at, now)


def _changes(order: Order, event: OrderChanged) -> tuple[OrderChanges, list[str]]:
    changes: OrderChanges = {}
    said: list[str] = []
    if event.status is not None and event.status != order.status:
        changes["status"] = event.status
        why = f" ({event.reason})" if event.reason else ""
        said.append(_STATUS_WORDS[event.status] + why)
    if event.test is not None and event.test != order.test:
        changes["test"] = event.test
        said.append("is a test order" if event.test else "is no longer a test order")
    mine = [r for r in event.refunds if r.currency in (None, order.currency)]
    merged, new = merge_refunds(order.refunds, mine)
    if new:
        changes["refunds"] = merged
        said += [_refund_words(refund, order.currency) for refund in new]
    if event.source != FULL_ORDER:  # a full order repeats its refunds on every delivery
        said += [
            f"was refunded {words(r.amount, r.currency)}, which is not in the order's currency "
            f"({order.currency}) and is not counted"
            for r in event.refunds
            if r.currency is not None and r.currency != order.currency
        ]
    return changes, said


def _refund_words(refund: Refund, currency: str) -> str:
    if refund.key == WHOLE_ORDER:
        return f"has {words(refund.amount, currency)} refunded in all"
    return f"was refunded {words(refund.amount, currency)}"


def _effect(before: Order, after: Order) -> str:
    if not before.recovered:
        return "It was not attributed to a message, so recovered revenue is unchanged."
    was = revenue(before.total, before.status, before.test, before.refunded)
    now = revenue(after.total, after.status, after.test, after.refunded)
    currency = before.currency
    if was == now:
        return f"Recovered revenue from it stays {words(now, currency)}."
    if now == 0:
        return f"It no longer counts as recovered revenue (was {words(was, currency)})."
    if was == 0:
        return f"It counts as recovered revenue again: {words(now, currency)}."
    return f"Recovered revenue from it is now {words(now, currency)} (was {words(was, currency)})."


def _reason(changes: OrderChanges) -> str:
    if "status" in changes:
        return f"order_{changes['status']}"
    return "order_refund" if "refunds" in changes else "order_test"
