"""Every read and write the dashboard makes, in one place.

The pages call only these functions (the Flows page reads the config alone, see `flows`). They
ask the engine (report, cart story, replay), the contacts API, and the store's repositories.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import HTTPException

from cartback.api import contacts, views
from cartback.api.dashboard import figures, measures
from cartback.api.dashboard.models import (
    PAGE_SIZE,
    CartFilters,
    CartRow,
    CartView,
    ContactView,
    DeliveryRow,
    DeliveryView,
    ItemRow,
    MessageRow,
    OrderView,
    Overview,
    Page,
    TimelineItem,
)
from cartback.api.deps import Caller
from cartback.domain.records import Cart, CartSearch, Delivery, DeliveryStatus, Message
from cartback.engine import replay
from cartback.engine.timeline import cart_story
from cartback.runtime import Runtime

_BODY_SHOWN = 4096


def store_ids(rt: Runtime, store_id: str | None) -> list[str]:
    return [s.id for s in rt.settings.stores if store_id is None or s.id == store_id]


# overview ---------------------------------------------------------------------------------


def overview(
    rt: Runtime, store_id: str | None, period: figures.Period, zone: ZoneInfo, today: date
) -> Overview:
    report = views.report_answer(rt, store_id, period.since)
    ids = store_ids(rt, store_id)
    with rt.store.reading() as tx:
        activity = tx.reports.activity(ids, period.since)
        has_carts = activity.carts > 0 or bool(
            tx.carts.search(CartSearch(tuple(ids)), limit=1, offset=0)
        )
    counts = figures.FunnelCounts(
        carts=activity.carts,
        abandoned=report.carts_abandoned,
        eligible=activity.eligible_carts,
        messaged=activity.messaged_carts,
        clicked=activity.clicked_carts,
        recovered=report.orders_recovered,
    )
    days: list[figures.DayFigures] = []
    if report.currency is not None or not report.stores:
        revenue, spend = list(activity.revenue), list(activity.spend)
        days = figures.daily(revenue, spend, zone, period.first_day, today)
    return Overview(
        store_id=store_id,
        period=period,
        report=report,
        report_query=_report_query(store_id, period.since),
        funnel=figures.funnel(counts),
        skips=figures.skip_rows(report.skipped),
        days=days,
        has_carts=has_carts,
        lift=measures.lift(report.model_dump(), _holdout_runs(rt, store_id)),
    )


def _holdout_runs(rt: Runtime, store_id: str | None) -> bool:
    flows = rt.settings.domain_flows()
    return any(f.holdout is not None for f in flows if store_id in (None, f.store_id))


def _report_query(store_id: str | None, since: datetime | None) -> str:
    params = {"store": store_id, "since": since.isoformat() if since else None}
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return "/api/report" + (f"?{query}" if query else "")


# carts ------------------------------------------------------------------------------------


def cart_list(rt: Runtime, wanted: CartFilters) -> Page[CartRow]:
    query = CartSearch(
        tuple(store_ids(rt, wanted.store_id)),
        status=wanted.status or None,
        text=wanted.q,
        since=wanted.since,
        until=wanted.until,
    )
    with rt.store.reading() as tx:
        found = tx.carts.search(query, limit=PAGE_SIZE + 1, offset=wanted.offset)
    rows = [_cart_row(cart) for cart in found[:PAGE_SIZE]]
    return Page(rows, wanted.offset, len(found) > PAGE_SIZE)


def _cart_row(cart: Cart) -> CartRow:
    return CartRow(**{key: getattr(cart, key) for key in CartRow.__dataclass_fields__})


def cart_page(rt: Runtime, cart_id: int) -> CartView | None:
    story = cart_story(rt.store, cart_id)
    if story is None:
        return None
    detail = views.cart_detail(story)
    with rt.store.reading() as tx:
        sent = _with_clicks(
            tx.messages.click_counts([m.id for m in story.messages]),
            [_message_row(m) for m in story.messages],
        )
    by_id = {m.id: m for m in sent}
    run = detail["run"] or {}
    return CartView(
        cart=_cart_row(story.cart),
        items=[_item(item) for item in detail["items"] or []],
        sms_consent=story.cart.sms_consent,
        email_consent=story.cart.email_consent,
        recovery_url=story.cart.recovery_url,
        flow_id=run.get("flow_id"),
        run_status=run.get("status"),
        next_run_at=run.get("next_run_at"),
        messages=sent,
        held_out=bool(run.get("held_out")),
        arms=dict(run.get("arms") or {}),
        timeline=[_timeline_item(entry, by_id) for entry in detail["timeline"]],
        order=_order_view(detail["order"], by_id),
    )


def _item(item: dict[str, Any]) -> ItemRow:
    try:
        price: Decimal | None = Decimal(str(item["price"]))
    except (KeyError, ArithmeticError, ValueError):
        price = None
    quantity = item.get("quantity")
    return ItemRow(
        title=str(item.get("title") or item.get("sku") or "Item"),
        quantity=quantity if isinstance(quantity, int) else 1,
        price=price,
        sku=item.get("sku"),
    )


def _timeline_item(entry: dict[str, Any], sent: dict[str, MessageRow]) -> TimelineItem:
    message = sent.get(entry.get("message_id") or "")
    channel = message.channel if message is not None else None
    words = figures.headline(entry["kind"], entry.get("action"), entry.get("reason"), channel)
    detail = entry["detail"]
    if entry["kind"] == "decision" and entry.get("action") == "send":
        detail = "Not bought, consent on record, not unsubscribed, outside quiet hours and "
        detail += "any cooldown: the message may go out."
    elif entry["kind"] == "message" and message is not None:
        detail = message.body
    elif entry["kind"] == "click" and message is not None and entry.get("action") != "bot":
        what = figures.channel_label(channel)
        detail = f"From the {what} message; the shopper went back to the basket."
    return TimelineItem(entry["at"], entry["kind"], words, detail, entry.get("until"))


def _order_view(order: dict[str, Any] | None, sent: dict[str, MessageRow]) -> OrderView | None:
    if order is None:
        return None
    fields = set(OrderView.__dataclass_fields__) - {"attributed_message"}
    return OrderView(
        **{key: order[key] for key in fields},
        attributed_message=sent.get(order.get("attributed_message_id") or ""),
    )


# messages ---------------------------------------------------------------------------------


def message_list(
    rt: Runtime, store_id: str | None, status: str | None, offset: int
) -> Page[MessageRow]:
    with rt.store.reading() as tx:
        found = tx.messages.page(
            store_id=store_id, status=status, limit=PAGE_SIZE + 1, offset=offset
        )
        shown = found[:PAGE_SIZE]
        counts = tx.messages.click_counts([m.id for m in shown])
    rows = _with_clicks(counts, [_message_row(m) for m in shown])
    return Page(rows, offset, len(found) > PAGE_SIZE)


def _message_row(message: Message) -> MessageRow:
    fields = set(MessageRow.__dataclass_fields__) - {"clicks"}
    return MessageRow(**{key: getattr(message, key) for key in fields})


def _with_clicks(counts: dict[str, int], rows: list[MessageRow]) -> list[MessageRow]:
    return [_replace_clicks(r, counts.get(r.id, 0)) for r in rows]


def _replace_clicks(row: MessageRow, count: int) -> MessageRow:
    values = {key: getattr(row, key) for key in MessageRow.__dataclass_fields__}
    return MessageRow(**{**values, "clicks": count})


# contacts ---------------------------------------------------------------------------------


class ContactNotFound(ValueError):
    """The text is neither an email address nor a phone number (the message says why)."""


def contact(rt: Runtime, query: str, store_id: str | None = None) -> ContactView:
    """What the contacts API says of a person, with their carts; `store_id`: as that store's
    token sees them (its own entries and carts; not found when it never dealt with them)."""
    try:
        found = contacts.get_contact(query.strip(), rt, Caller(store_id))
    except HTTPException as exc:
        raise ContactNotFound(str(exc.detail)) from None
    with rt.store.reading() as tx:
        found_carts = tx.carts.for_address(found.id, 100)
    mine = [cart for cart in found_carts if store_id in (None, cart.store_id)]
    return ContactView(found, [_cart_row(cart) for cart in mine])


# deliveries -------------------------------------------------------------------------------


def delivery_list(rt: Runtime, store_id: str | None, status: str | None) -> list[DeliveryRow]:
    wanted = DeliveryStatus(status) if status else None
    with rt.store.reading() as tx:
        found = tx.deliveries.listing(status=wanted, store_id=store_id, limit=PAGE_SIZE)
    return [_delivery_row(d) for d in found]


def _delivery_row(found: Delivery) -> DeliveryRow:
    values = {key: getattr(found, key) for key in DeliveryRow.__dataclass_fields__}
    return DeliveryRow(**{**values, "status": str(found.status)})


def delivery(rt: Runtime, delivery_id: int) -> DeliveryView | None:
    with rt.store.reading() as tx:
        found = tx.deliveries.get(delivery_id)
    if found is None:
        return None
    body: bytes = found.body or b""
    row = _delivery_row(found)
    return DeliveryView(
        **{key: getattr(row, key) for key in DeliveryRow.__dataclass_fields__},
        headers=dict(found.headers or {}),
        body_start=body[:_BODY_SHOWN].decode("utf-8", errors="replace"),
        body_size=len(body),
    )


def replay_delivery(rt: Runtime, delivery_id: int) -> replay.Replayed:
    return replay.replay(rt, [delivery_id])[0]
