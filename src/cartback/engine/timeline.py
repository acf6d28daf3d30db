"""A cart as a person looks at it: its contents, run, order, messages, and what happened when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cartback.domain.orders import OrderStatus, words
from cartback.domain.records import Cart, Click, Message, Open, Order, Run
from cartback.store.base import Store, Tx


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    kind: str  # decision | message | click | open | order
    detail: str
    action: str | None = None
    reason: str | None = None
    flow_id: str | None = None
    step_index: int | None = None
    message_id: str | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class CartStory:
    cart: Cart
    run: Run | None
    order: Order | None
    messages: list[Message]
    timeline: list[Entry]


def cart_story(store: Store, cart_id: int) -> CartStory | None:
    with store.reading() as tx:
        cart = tx.carts.get(cart_id)
        if cart is None:
            return None
        sent = tx.messages.for_cart(cart_id)
        order = tx.orders.for_cart(cart_id)
        return CartStory(
            cart=cart,
            run=tx.runs.for_cart(cart_id),
            order=order,
            messages=sent,
            timeline=timeline(tx, cart_id, sent, order),
        )


def timeline(tx: Tx, cart_id: int, sent: list[Message], order: Order | None) -> list[Entry]:
    """Decisions, messages, clicks, opens and the order, oldest first (ties keep that order)."""
    entries = [
        Entry(
            at=d.at,
            kind="decision",
            detail=d.detail,
            action=d.action,
            reason=d.reason,
            flow_id=d.flow_id,
            step_index=d.step_index,
            until=d.until,
        )
        for d in tx.decisions.for_cart(cart_id)
    ]
    entries += [
        Entry(
            at=m.sent_at or m.created_at,
            kind="message",
            detail=f"{m.channel} message {m.status}: {m.body}",
            action=str(m.status),
            message_id=m.id,
            flow_id=m.flow_id,
            step_index=m.step_index,
        )
        for m in sent
    ]
    entries += [
        Entry(at=c.at, kind="click", detail=_clicked(c), action=_who(c), message_id=c.message_id)
        for c in tx.messages.clicks_for_cart(cart_id)
    ]
    entries += [
        Entry(at=o.at, kind="open", detail=_opened(o), action=_who(o), message_id=o.message_id)
        for o in tx.measure.opens_for_cart(cart_id)
    ]
    if order is not None:
        entries.append(Entry(at=order.placed_at, kind="order", detail=order_words(order)))
    return sorted(entries, key=lambda entry: entry.at)


def order_words(order: Order) -> str:
    """`Order 1001: 404.95 USD, recovered (click).`, with what keeps it from being revenue."""
    how = f"recovered ({order.attribution})" if order.recovered else "not attributed to a message"
    notes = [f"{words(order.total, order.currency)}", how]
    if order.refunded:
        notes.append(f"{words(order.refunded, order.currency)} refunded")
    if order.test:
        notes.append("a test order, not revenue")
    elif order.status != OrderStatus.OPEN:
        notes.append(f"{order.status}, not revenue")
    return f"Order {order.order_key}: {', '.join(notes)}."


def _who(seen: Click | Open) -> str:
    """A click's or an open's `action`: `person`, or `bot` (it counts for nothing)."""
    return "bot" if seen.bot else "person"


def _clicked(click: Click) -> str:
    if click.bot_reason is None:
        return "The link was followed."
    return f"The link was fetched by a machine ({click.bot_reason}): not counted as a click."


def _opened(opened: Open) -> str:
    if opened.bot_reason is None:
        return "The email was opened."
    return f"The email's pixel was fetched by a machine ({opened.bot_reason}): not an open."
