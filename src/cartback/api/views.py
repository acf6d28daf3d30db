"""Assembling API answers from several queries: the cart timeline and the report."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection

from cartback.api.schemas import Report, StoreReport
from cartback.runtime import Runtime
from cartback.store import carts, messages, queue, reports


def cart_detail(conn: Connection, cart_id: int) -> dict[str, Any] | None:
    cart = carts.get(conn, cart_id)
    if cart is None:
        return None
    sent = messages.for_cart(conn, cart_id)
    run = queue.for_cart(conn, cart_id)
    order = carts.order_for_cart(conn, cart_id)
    detail = cart._asdict()
    detail.update(
        run=run._asdict() if run is not None else None,
        order=order._asdict() if order is not None else None,
        messages=[m._asdict() for m in sent],
        timeline=_timeline(conn, cart_id, sent, order),
    )
    return detail


def _timeline(conn: Connection, cart_id: int, sent: Any, order: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = [
        {
            "at": d.at,
            "kind": "decision",
            "action": d.action,
            "reason": d.reason,
            "detail": d.detail,
            "flow_id": d.flow_id,
            "step_index": d.step_index,
            "until": d.until,
        }
        for d in queue.decisions_for_cart(conn, cart_id)
    ]
    entries += [
        {
            "at": m.sent_at or m.created_at,
            "kind": "message",
            "action": m.status,
            "detail": f"{m.channel} message {m.status}: {m.body}",
            "message_id": m.id,
            "flow_id": m.flow_id,
            "step_index": m.step_index,
        }
        for m in sent
    ]
    entries += [
        {
            "at": c.at,
            "kind": "click",
            "detail": "The link was followed.",
            "message_id": c.message_id,
        }
        for c in messages.clicks_for_cart(conn, cart_id)
    ]
    if order is not None:
        how = (
            f"recovered ({order.attribution})" if order.recovered else "not attributed to a message"
        )
        detail = f"Order {order.order_key}: {order.total} {order.currency}, {how}."
        entries.append({"at": order.placed_at, "kind": "order", "detail": detail})
    return sorted(entries, key=lambda e: e["at"])


def report(rt: Runtime, store_id: str | None, since: datetime | None) -> Report:
    stores = [s for s in rt.settings.stores if store_id is None or s.id == store_id]
    with rt.engine.connect() as conn:
        parts = [_store_report(reports.figures(conn, s.id, s.currency, since)) for s in stores]
    total = _combine(parts)
    return Report(**total.model_dump(), since=since, stores=parts)


def _store_report(f: reports.StoreFigures) -> StoreReport:
    return StoreReport(
        store=f.store_id,
        currency=f.currency,
        carts_abandoned=f.carts_abandoned,
        messages_sent=f.messages_sent,
        messages_delivered=f.messages_delivered,
        sms_segments=f.sms_segments,
        spend=f.spend,
        orders_recovered=f.orders_recovered,
        recovered_revenue=f.recovered_revenue,
        discount_cost=f.discount_cost,
        roas=_roas(f.recovered_revenue, f.spend),
        skipped=f.skipped,
    )


def _combine(parts: list[StoreReport]) -> StoreReport:
    """Totals over stores; money is only added up when all stores share one currency."""
    currencies = {p.currency for p in parts if p.currency}
    one = len(currencies) <= 1
    skipped: dict[str, int] = {}
    for p in parts:
        for reason, count in p.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    spend = sum((p.spend for p in parts), Decimal("0"))
    revenue = sum((p.recovered_revenue for p in parts), Decimal("0"))
    return StoreReport(
        store=parts[0].store if len(parts) == 1 else "*",
        currency=next(iter(currencies)) if one and currencies else None,
        carts_abandoned=sum(p.carts_abandoned for p in parts),
        messages_sent=sum(p.messages_sent for p in parts),
        messages_delivered=sum(p.messages_delivered for p in parts),
        sms_segments=sum(p.sms_segments for p in parts),
        spend=spend if one else Decimal("0"),
        orders_recovered=sum(p.orders_recovered for p in parts),
        recovered_revenue=revenue if one else Decimal("0"),
        discount_cost=sum((p.discount_cost for p in parts), Decimal("0")) if one else Decimal("0"),
        roas=_roas(revenue, spend) if one else None,
        skipped=skipped,
    )


def _roas(revenue: Decimal, spend: Decimal) -> Decimal | None:
    if spend == 0:
        return None
    return (revenue / spend).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
