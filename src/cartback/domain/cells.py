"""Assigned carts' outcomes summed by what the report groups them by: the cells it measures.

A report counts carts, recovered carts, money and messages per group (held out or treated, an
experiment's arm, a flow, a day, a step or channel of the messages). None of that needs the
carts one by one: carts that share a flow, a group, their arms and their day of abandonment add
up into one cell, and every figure of the report is a sum of cells. So a store can sum them
where they are kept (`Measurements.cells`: SQL's GROUP BY) and hand over a few hundred cells
instead of a month's carts, messages and orders.

Cells add up: a store may split a cell's figures over several cells with the same key (each
figure from its own query, money grouped by its exact amounts), and every reading of them sums.
`cells_of` is the plain reading of carts' outcomes, one cell per cart (the in-memory store's).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from cartback.domain.outcomes import CartOutcome, SentMessage

ZERO = Decimal("0")


class Per(StrEnum):
    """What a cell is of: carts, or carts with their messages of one step or one channel
    (a cart with messages at two steps is in a cell of each, with only those messages)."""

    CART = "cart"
    STEP = "step"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class CellsAsked:
    """The cells a report reads: of one store's carts abandoned since `since` (None: ever)
    and assigned in a flow (`flow_id`: that one), recovered within `window`."""

    store_id: str
    since: datetime | None
    window: timedelta
    flow_id: str | None = None
    per: Per = Per.CART


@dataclass(frozen=True, slots=True)
class Cell:
    """Carts that share their flow, group, arms and day (and, per step or channel, the
    messages' step or channel), with their figures summed."""

    flow_id: str
    held_out: bool
    arms: tuple[tuple[str, str], ...]  # (experiment id, arm)
    day: str  # the day (UTC) the carts were abandoned, ISO
    currency: str | None = None  # the recovered carts' orders' currency; None: not recovered
    step: int | None = None  # the messages' step (Per.STEP; None there: a step not known)
    channel: str | None = None  # the messages' channel (Per.CHANNEL)
    carts: int = 0
    recovered: int = 0
    revenue: Decimal = ZERO  # what the recovered carts' orders earned, net of `discount`
    discount: Decimal = ZERO  # what our codes took off those orders
    messages: int = 0
    clicks: int = 0  # by people
    bot_clicks: int = 0
    opens: int = 0  # by people
    spend: Decimal = ZERO

    def arm(self, experiment_id: str) -> str | None:
        return dict(self.arms).get(experiment_id)


def cells_of(outcomes: Iterable[CartOutcome], window: timedelta, per: Per = Per.CART) -> list[Cell]:
    """Carts' outcomes as cells, plainly: one cell per cart (per its step or channel)."""
    found = []
    for outcome in outcomes:
        cart = _cart_cell(outcome, window)
        if per == Per.CART:
            found.append(_with_messages(cart, outcome.messages))
            continue
        by_key: dict[str | int | None, list[SentMessage]] = {}
        for message in outcome.messages:
            key = message.step_index if per == Per.STEP else message.channel
            by_key.setdefault(key, []).append(message)
        for key, sent in by_key.items():
            keyed = _keyed(cart, per, key)
            found.append(_with_messages(keyed, sent))
    return found


def _cart_cell(outcome: CartOutcome, window: timedelta) -> Cell:
    order = outcome.order
    day = outcome.abandoned_at.date().isoformat()
    key = (outcome.flow_id, outcome.held_out, outcome.arms, day)
    if order is None or not outcome.recovered(window):
        return Cell(*key, carts=1)
    net = order.revenue - order.discount
    return Cell(*key, order.currency, carts=1, recovered=1, revenue=net, discount=order.discount)


def _keyed(cell: Cell, per: Per, key: str | int | None) -> Cell:
    if per == Per.STEP:
        return replace(cell, step=key if isinstance(key, int) else None)
    return replace(cell, channel=str(key))


def _with_messages(cell: Cell, sent: Iterable[SentMessage]) -> Cell:
    messages = list(sent)
    return replace(
        cell,
        messages=len(messages),
        clicks=sum(m.clicks for m in messages),
        bot_clicks=sum(m.bot_clicks for m in messages),
        opens=sum(m.opens for m in messages),
        spend=sum((m.cost for m in messages), ZERO),
    )
