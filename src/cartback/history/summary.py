"""What a replay did, per store and flow, read back from its store the way the report reads it.

Carts, abandoned carts, messages by step and channel, SMS segments and spend, every decision not
to send (skipped, cancelled) and every deferral by reason, the holdout's size, and the orders that
followed a message, attributed as live and counted like the report (`StoreFigures`): a test,
cancelled or refunded order earns nothing. Revenue is an upper bound, since nobody received the
messages; the summary says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cartback.domain.figures import StoreFigures
from cartback.domain.flow import Flow
from cartback.domain.money import in_minor_units
from cartback.domain.records import MESSAGE_OUT, Cart, DecisionAction, Message
from cartback.store.base import Store, Tx

NO_FLOW = "(no flow)"
UPPER_BOUND = (
    "estimated recovered revenue is an upper bound: the orders really followed, but nobody "
    "received these messages"
)
_COUNTED: dict[str, str] = {  # a decision's action (stored as text) → where it is counted
    DecisionAction.SKIP: "skipped",
    DecisionAction.HOLDOUT: "skipped",  # a message the policy allowed, held back: reason holdout
    DecisionAction.CANCEL: "cancelled",
    DecisionAction.DEFER: "deferred",
}
ALL_CARTS = 10**9  # one page holds every cart of a store


@dataclass
class FlowSummary:
    store: str
    flow: str
    currency: str | None
    carts: int = 0
    abandoned: int = 0
    holdout: int = 0
    messages: Counter[str] = field(default_factory=Counter)  # "step 1 sms"
    segments: int = 0
    spend: Decimal = Decimal("0")
    skipped: Counter[str] = field(default_factory=Counter)
    cancelled: Counter[str] = field(default_factory=Counter)
    deferred: Counter[str] = field(default_factory=Counter)
    recovered: StoreFigures | None = None

    def as_json(self) -> dict[str, Any]:
        money = self.recovered or StoreFigures(self.store, self.currency)
        return {
            "flow": self.flow,
            "carts": self.carts,
            "abandoned": self.abandoned,
            "holdout": self.holdout,
            "messages": sum(self.messages.values()),
            "messages_by_step": dict(sorted(self.messages.items())),
            "sms_segments": self.segments,
            "spend": str(in_minor_units(self.spend, self.currency)),
            "skipped": dict(self.skipped.most_common()),
            "cancelled": dict(self.cancelled.most_common()),
            "deferred": dict(self.deferred.most_common()),
            "orders_recovered": money.orders_recovered,
            "recovered_revenue_upper_bound": str(
                in_minor_units(money.recovered_revenue, self.currency)
            ),
        }


@dataclass
class StoreSummary:
    store: str
    currency: str | None
    carts: int
    abandoned: int
    flows: list[FlowSummary]

    def as_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "currency": self.currency,
            "carts": self.carts,
            "abandoned": self.abandoned,
            "flows": [flow.as_json() for flow in self.flows],
        }


def summarise(
    store: Store, store_ids: list[str], currencies: Mapping[str, str | None], flows: list[Flow]
) -> list[StoreSummary]:
    """Every store's summary, its flows in the config's order (carts in no flow last)."""
    by_id = {flow.id: flow for flow in flows}
    found = []
    with store.reading() as tx:
        for store_id in store_ids:
            currency = tx.reports.figures(store_id, currencies.get(store_id), None).currency
            parts: dict[str, FlowSummary] = {}
            carts = _carts(tx, store_id)
            for cart in carts:
                _add_cart(tx, cart, parts, by_id, currency)
            order = [f.id for f in flows if f.store_id == store_id] + [NO_FLOW]
            ordered = sorted(parts.values(), key=lambda p: _position(order, p.flow))
            abandoned = sum(1 for cart in carts if cart.abandoned_at is not None)
            found.append(StoreSummary(store_id, currency, len(carts), abandoned, ordered))
    return found


def _position(order: list[str], flow: str) -> int:
    return order.index(flow) if flow in order else len(order)


def _carts(tx: Tx, store_id: str) -> list[Cart]:
    return tx.carts.page(store_id=store_id, status=None, limit=ALL_CARTS, offset=0)


def _add_cart(
    tx: Tx,
    cart: Cart,
    parts: dict[str, FlowSummary],
    flows: Mapping[str, Flow],
    currency: str | None,
) -> None:
    def part(flow_id: str | None) -> FlowSummary:
        key = flow_id or NO_FLOW
        if key not in parts:
            parts[key] = FlowSummary(cart.store_id, key, currency)
        return parts[key]

    run = tx.runs.for_cart(cart.id)
    home = part(run.flow_id if run is not None else None)
    home.carts += 1
    if cart.abandoned_at is not None:
        home.abandoned += 1
        # As the engine held it out when it was abandoned (kept on its run).
        home.holdout += bool(run is not None and run.held_out)
    for entry in tx.decisions.for_cart(cart.id):
        counted = _COUNTED.get(entry.action)
        if entry.action == DecisionAction.HOLDOUT and (entry.step_index or 0) < 0:
            continue  # the note as it was abandoned, not a message held back
        if counted is not None:
            getattr(part(entry.flow_id or home.flow), counted)[entry.reason] += 1
    sent = {m.id: m for m in tx.messages.for_cart(cart.id) if m.status in MESSAGE_OUT}
    for message in sent.values():
        _add_message(part(message.flow_id or home.flow), message)
    order = tx.orders.for_cart(cart.id)
    if order is not None and order.recovered:
        won_by = sent.get(order.attributed_message_id or "")
        owner = part(won_by.flow_id if won_by is not None else home.flow)
        owner.recovered = owner.recovered or StoreFigures(cart.store_id, currency)
        owner.recovered.add_recovered_order(
            order.currency,
            order.total,
            status=order.status,
            test=order.test,
            refunded=order.refunded,
            discount=order.discount_total if won_by and won_by.discount_code else Decimal("0"),
        )


def _add_message(part: FlowSummary, message: Message) -> None:
    channel = message.channel_used or message.channel
    part.messages[f"step {(message.step_index or 0) + 1} {channel}"] += 1
    if channel == "sms":
        part.segments += message.provider_segments or message.segments
    part.spend += message.cost


def message_lines(store: Store, store_ids: list[str]) -> Iterator[dict[str, Any]]:
    """Each message that would have gone out: `{cart, store, flow, step, channel, to, at, text,
    segments}`, in the order they were sent."""
    with store.reading() as tx:
        lines = []
        for store_id in store_ids:
            for cart in _carts(tx, store_id):
                for m in tx.messages.for_cart(cart.id):
                    if m.status in MESSAGE_OUT:
                        lines.append((m.sent_at or m.created_at, cart.cart_key, m))
    lines.sort(key=lambda line: line[0])
    for at, cart_key, m in lines:
        yield {
            "cart": cart_key,
            "store": m.store_id,
            "flow": m.flow_id,
            "step": (m.step_index or 0) + 1,
            "channel": m.channel_used or m.channel,
            "to": m.recipient,
            "at": at.isoformat(),
            "text": m.body,
            "segments": m.segments,
        }
