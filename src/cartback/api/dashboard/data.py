"""Every read and write the dashboard makes, in one place.

The pages call only these functions (the Flows page reads the config alone, see `flows`).
Today they call the API's views, the store's queries, the contacts API and the replay; the few
figures the store has no query for yet (per-day money, funnel counts, cart search, clicks per
message, a contact's carts) are asked here. When the store becomes a typed seam, this module is
the one that changes.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import HTTPException
from sqlalchemy import Connection, Select, distinct, func, or_, select

from cartback.api import contacts, views
from cartback.api.dashboard import figures
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
from cartback.engine import replay
from cartback.runtime import Runtime
from cartback.store import deliveries, listing
from cartback.store.tables import carts, clicks, messages, orders

_OUT = ("sent", "delivered")  # messages that reached the gateway, as the report counts them
_BODY_SHOWN = 4096


def store_ids(rt: Runtime, store_id: str | None) -> list[str]:
    return [s.id for s in rt.settings.stores if store_id is None or s.id == store_id]


# overview ---------------------------------------------------------------------------------


def overview(
    rt: Runtime, store_id: str | None, period: figures.Period, zone: ZoneInfo, today: date
) -> Overview:
    report = views.report(rt, store_id, period.since)
    ids = store_ids(rt, store_id)
    with rt.engine.connect() as conn:
        counts = figures.FunnelCounts(
            carts=_count(conn, _carts_since(ids, period.since)),
            abandoned=report.carts_abandoned,
            messaged=_count(conn, _messaged_carts(ids, period.since)),
            clicked=_count(conn, _clicked_carts(ids, period.since)),
            recovered=report.orders_recovered,
        )
        days: list[figures.DayFigures] = []
        if report.currency is not None or not report.stores:
            revenue, spend = _money_rows(conn, ids, period.since)
            days = figures.daily(revenue, spend, zone, period.first_day, today)
        has_carts = _count(conn, _carts_since(ids, None)) > 0
    return Overview(
        store_id=store_id,
        period=period,
        report=report,
        report_query=_report_query(store_id, period.since),
        funnel=figures.funnel(counts),
        skips=figures.skip_rows(report.skipped),
        days=days,
        has_carts=has_carts,
    )


def _report_query(store_id: str | None, since: datetime | None) -> str:
    params = {"store": store_id, "since": since.isoformat() if since else None}
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return "/api/report" + (f"?{query}" if query else "")


def _count(conn: Connection, query: Select[Any]) -> int:
    return int(conn.execute(query).scalar_one())


def _carts_since(ids: list[str], since: datetime | None) -> Select[Any]:
    query = select(func.count()).where(carts.c.store_id.in_(ids))
    return query if since is None else query.where(carts.c.created_at >= since)


def _messaged_carts(ids: list[str], since: datetime | None) -> Select[Any]:
    query = select(func.count(distinct(messages.c.cart_id))).where(
        messages.c.store_id.in_(ids), messages.c.status.in_(_OUT)
    )
    return query if since is None else query.where(messages.c.created_at >= since)


def _clicked_carts(ids: list[str], since: datetime | None) -> Select[Any]:
    query = (
        select(func.count(distinct(clicks.c.cart_id)))
        .select_from(clicks.join(carts, carts.c.id == clicks.c.cart_id))
        .where(carts.c.store_id.in_(ids))
    )
    return query if since is None else query.where(clicks.c.at >= since)


def _money_rows(
    conn: Connection, ids: list[str], since: datetime | None
) -> tuple[list[tuple[datetime, Decimal]], list[tuple[datetime, Decimal]]]:
    """Recovered orders and message costs, filtered as the report filters them."""
    revenue = select(orders.c.placed_at, orders.c.total).where(
        orders.c.store_id.in_(ids), orders.c.recovered
    )
    spend = select(messages.c.created_at, messages.c.cost).where(
        messages.c.store_id.in_(ids), messages.c.status.in_(_OUT)
    )
    if since is not None:
        revenue = revenue.where(orders.c.placed_at >= since)
        spend = spend.where(messages.c.created_at >= since)
    return (
        [(row.placed_at, row.total) for row in conn.execute(revenue)],
        [(row.created_at, row.cost) for row in conn.execute(spend)],
    )


# carts ------------------------------------------------------------------------------------


def cart_list(rt: Runtime, wanted: CartFilters) -> Page[CartRow]:
    query = select(carts).where(carts.c.store_id.in_(store_ids(rt, wanted.store_id)))
    if wanted.status:
        query = query.where(carts.c.status == wanted.status)
    if wanted.q:
        pattern = "%" + _escape_like(wanted.q.strip().lower()) + "%"
        searched = (carts.c.email, carts.c.phone, carts.c.first_name, carts.c.last_name)
        query = query.where(
            or_(
                carts.c.cart_key == wanted.q.strip(),
                *(func.lower(column).like(pattern, escape="\\") for column in searched),
            )
        )
    if wanted.since is not None:
        query = query.where(carts.c.updated_at >= wanted.since)
    if wanted.until is not None:
        query = query.where(carts.c.updated_at < wanted.until)
    query = query.order_by(carts.c.updated_at.desc(), carts.c.id.desc())
    with rt.engine.connect() as conn:
        rows = conn.execute(query.limit(PAGE_SIZE + 1).offset(wanted.offset)).all()
    return Page([_cart_row(r) for r in rows[:PAGE_SIZE]], wanted.offset, len(rows) > PAGE_SIZE)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _cart_row(row: Any) -> CartRow:
    fields = CartRow.__dataclass_fields__
    values = row._asdict() if hasattr(row, "_asdict") else dict(row)
    return CartRow(**{key: values[key] for key in fields})


def cart_page(rt: Runtime, cart_id: int) -> CartView | None:
    with rt.engine.connect() as conn:
        detail = views.cart_detail(conn, cart_id)
        if detail is None:
            return None
        sent = [_message_row(m) for m in detail["messages"]]
        sent = _with_clicks(conn, sent)
    by_id = {m.id: m for m in sent}
    run = detail["run"] or {}
    return CartView(
        cart=_cart_row(detail),
        items=[_item(item) for item in detail["items"] or []],
        sms_consent=detail["sms_consent"],
        email_consent=detail["email_consent"],
        recovery_url=detail["recovery_url"],
        flow_id=run.get("flow_id"),
        run_status=run.get("status"),
        next_run_at=run.get("next_run_at"),
        messages=sent,
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
    elif entry["kind"] == "click" and message is not None:
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
    with rt.engine.connect() as conn:
        rows = listing.page(
            conn,
            messages,
            messages.c.created_at,
            store_id=store_id,
            status=status,
            limit=PAGE_SIZE + 1,
            offset=offset,
        )
        shown = _with_clicks(conn, [_message_row(r._asdict()) for r in rows[:PAGE_SIZE]])
    return Page(shown, offset, len(rows) > PAGE_SIZE)


def _message_row(values: dict[str, Any]) -> MessageRow:
    fields = set(MessageRow.__dataclass_fields__) - {"clicks"}
    return MessageRow(**{key: values[key] for key in fields})


def _with_clicks(conn: Connection, rows: list[MessageRow]) -> list[MessageRow]:
    if not rows:
        return rows
    query = (
        select(clicks.c.message_id, func.count())
        .where(clicks.c.message_id.in_([r.id for r in rows]))
        .group_by(clicks.c.message_id)
    )
    counted = {message_id: int(n) for message_id, n in conn.execute(query)}
    return [_replace_clicks(r, counted.get(r.id, 0)) for r in rows]


def _replace_clicks(row: MessageRow, count: int) -> MessageRow:
    values = {key: getattr(row, key) for key in MessageRow.__dataclass_fields__}
    return MessageRow(**{**values, "clicks": count})


# contacts ---------------------------------------------------------------------------------


class ContactNotFound(ValueError):
    """The text is neither an email address nor a phone number (the message says why)."""


def contact(rt: Runtime, query: str) -> ContactView:
    try:
        found = contacts.get_contact(query.strip(), rt)
    except HTTPException as exc:
        raise ContactNotFound(str(exc.detail)) from None
    column = carts.c.email if "@" in found.id else carts.c.phone
    with rt.engine.connect() as conn:
        rows = conn.execute(
            select(carts).where(column == found.id).order_by(carts.c.updated_at.desc()).limit(100)
        ).all()
    return ContactView(found, [_cart_row(r) for r in rows])


# deliveries -------------------------------------------------------------------------------


def delivery_list(rt: Runtime, store_id: str | None, status: str | None) -> list[DeliveryRow]:
    with rt.engine.connect() as conn:
        rows = deliveries.listing(conn, status=status, store_id=store_id, limit=PAGE_SIZE)
    return [DeliveryRow(**row._asdict()) for row in rows]


def delivery(rt: Runtime, delivery_id: int) -> DeliveryView | None:
    with rt.engine.connect() as conn:
        row = deliveries.get(conn, delivery_id)
    if row is None:
        return None
    body: bytes = row.body or b""
    fields = DeliveryRow.__dataclass_fields__
    return DeliveryView(
        **{key: getattr(row, key) for key in fields},
        headers=dict(row.headers or {}),
        body_start=body[:_BODY_SHOWN].decode("utf-8", errors="replace"),
        body_size=len(body),
    )


def replay_delivery(rt: Runtime, delivery_id: int) -> replay.Replayed:
    return replay.replay(rt, [delivery_id])[0]


# places kept for what comes next ------------------------------------------------------------


def has_experiments(rt: Runtime) -> bool:
    """Issue 11: true once a flow has an experiment or a holdout (the nav shows Experiments)."""
    return False


def has_diagnostics(rt: Runtime) -> bool:
    """Issue 12: true once abandonment diagnostics exist (the nav shows Diagnostics)."""
    return False
