"""The engine's answers in the API's shapes: a cart with its timeline, and the report."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from cartback.api.schemas import Report, StoreReport
from cartback.domain.breakdown import By
from cartback.domain.money import in_minor_units
from cartback.domain.orders import revenue
from cartback.domain.records import Cart, Delivery, Message, Order, Run, item_json
from cartback.engine.measuring import Scope
from cartback.engine.report import report
from cartback.engine.timeline import CartStory
from cartback.runtime import Runtime


def cart_fields(cart: Cart) -> dict[str, Any]:
    fields = asdict(cart)
    fields["items"] = [item_json(item) for item in cart.items]
    fields["total"] = in_minor_units(cart.total, cart.currency)
    return fields


def message_fields(message: Message) -> dict[str, Any]:
    fields = asdict(message)
    fields["cost"] = in_minor_units(message.cost, message.currency)
    return fields


def order_fields(order: Order) -> dict[str, Any]:
    fields = asdict(order)
    fields.update(
        total=in_minor_units(order.total, order.currency),
        refunded=in_minor_units(order.refunded, order.currency),
        revenue=in_minor_units(
            revenue(order.total, order.status, order.test, order.refunded), order.currency
        ),
    )
    return fields


def cart_detail(story: CartStory) -> dict[str, Any]:
    detail = cart_fields(story.cart)
    detail.update(
        run=run_fields(story.run) if story.run is not None else None,
        order=order_fields(story.order) if story.order is not None else None,
        messages=[message_fields(message) for message in story.messages],
        timeline=[asdict(entry) for entry in story.timeline],
    )
    return detail


def run_fields(run: Run) -> dict[str, Any]:
    return {**asdict(run), "arms": dict(run.arms)}


def delivery_fields(delivery: Delivery) -> dict[str, Any]:
    """What the API lists of a stored delivery: never its body or headers."""
    return {
        "id": delivery.id,
        "platform": delivery.platform,
        "store_id": delivery.store_id,
        "topic": delivery.topic,
        "delivery_key": delivery.delivery_key,
        "received_at": delivery.received_at,
        "status": str(delivery.status),
        "error": delivery.error,
        "attempts": delivery.attempts,
    }


def report_answer(
    rt: Runtime,
    store_id: str | None,
    since: datetime | None,
    flow_id: str | None = None,
    by: By | None = None,
) -> Report:
    stores = [(s.id, s.currency) for s in rt.settings.stores if store_id in (None, s.id)]
    scope = Scope(
        window=rt.settings.attribution.click_window,
        flows=rt.settings.domain_flows(),
        flow_id=flow_id,
        by=by,
    )
    found = report(rt.store, stores, since, scope)
    parts = [StoreReport(**asdict(part)) for part in found.stores]
    return Report(**asdict(found.total), since=since, stores=parts)
