"""The live engine on a simulated clock: ingest, scheduler and sender as `runtime.build` wires
them, on the in-memory store, with a gateway that records instead of sending.

Nothing is re-implemented: each event goes through `IngestService.receive` (deduplicated by its
id, parsed by the live parser), and between two events the clock jumps to each instant a run
falls due and the scheduler ticks there, as a worker would have. So quiet hours, sending
windows, cooldowns and deadlines fall as they would have on those days. No request leaves the
process: gateways are replaced by a recorder, Shopify discount codes are taken as created,
Shopify's Admin API enrichment is off (rules on customer or product data see only what the
events carry), and any other HTTP call is answered by a transport that refuses it.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from cartback.channels.base import OutgoingMessage, SendResult
from cartback.clock import FakeClock
from cartback.config import Settings
from cartback.domain.discounts import DiscountReason, DiscountRule
from cartback.domain.events import Channel, Event
from cartback.domain.flow import Flow, WaitStep
from cartback.domain.records import Cart
from cartback.engine.discounting import Created, DiscountIssuer, ShopAccess, label_for
from cartback.engine.ingest import Delivery, Outcome
from cartback.history.events import HistoryEvent
from cartback.integrations import generic
from cartback.runtime import Runtime, build
from cartback.testing import FakeGateway, InMemoryStore

Respond = Callable[[OutgoingMessage], SendResult]
RECORDER = "backtest"  # the provider name messages are recorded under
MAX_FAILURES_KEPT = 5


class SimulatedDiscounts(DiscountIssuer):
    """A Shopify code is taken as created: the backtest calls no Admin API."""

    def create(
        self,
        code: str,
        rule: DiscountRule | None,
        cart: Cart,
        shop: ShopAccess,
        starts_at: datetime,
        *,
        retry: bool,
    ) -> Created:
        if rule is None:
            return Created(False, DiscountReason.FAILED, "The step gives no discount any more.")
        label = label_for(rule, cart.currency)
        return Created(True, DiscountReason.OK, f"{label} off with code {code} (simulated).")


def _no_network(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, text="a backtest sends nothing")


class Replay:
    """One engine, one store, one clock; `feed` events in time order, then `finish`."""

    def __init__(
        self,
        settings: Settings,
        start: datetime,
        *,
        respond: Respond | None = None,
    ) -> None:
        self.settings = settings
        self.clock = FakeClock(start)
        self.store = InMemoryStore()
        self.gateway = FakeGateway(self.clock, name=RECORDER, respond=respond)
        gateways = {Channel.SMS: self.gateway, Channel.EMAIL: self.gateway}
        self.runtime: Runtime = build(
            settings,
            clock=self.clock,
            gateways=gateways,
            store=self.store,
            http_transport=httpx.MockTransport(_no_network),
        )
        self.runtime.scheduler.sender.discounts = SimulatedDiscounts()
        self.runtime.ingest.enrich = None  # no Admin API lookups: carts as the events tell them
        self.stores = {store.id: store for store in settings.stores}
        self.deliveries: Counter[str] = Counter()  # processed, duplicate, failed
        self.failures: list[str] = []  # the first events the live parser refused, and why

    def feed(self, event: HistoryEvent, received_at: datetime | None = None) -> None:
        """Run what fell due before the event, then receive it (`received_at`: a late webhook
        arrives after it happened; by default when it happened)."""
        self.advance_to(received_at or event.at)
        delivery = Delivery(
            platform=event.origin,
            store_id=event.store_id,
            topic="event",
            delivery_key=event.key,
            headers={"content-type": "application/json"},
            body=event.body or b"{}",
        )
        result = self.runtime.ingest.receive(delivery, self._parser(event))
        self.deliveries[str(result.outcome)] += 1
        if result.outcome == Outcome.FAILED and len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append(f"{event.store_id} {event.key}: {result.error}")

    def _parser(self, event: HistoryEvent) -> Callable[[bytes, datetime], list[Event]]:
        if event.body is None:
            made = list(event.events)
            return lambda _body, _at: made
        store = self.stores[event.store_id]
        return functools.partial(
            _parse_generic,
            store_id=store.id,
            default_country=store.default_country,
            currency=store.currency,
        )

    def run_until(self, moment: datetime) -> int:
        """Tick at every instant a run falls due up to `moment`; how many runs were claimed."""
        claimed = 0
        while (due := self.store.next_due()) is not None and due <= moment:
            self.clock.set(max(due, self.clock.now()))
            while batch := self.runtime.scheduler.tick():
                claimed += batch
        return claimed

    def advance_to(self, moment: datetime) -> None:
        """Run what falls due up to `moment`, and stop the clock there (never backwards)."""
        self.run_until(moment)
        self.clock.set(max(moment, self.clock.now()))

    def finish(self, until: datetime) -> None:
        """Let every run still pending play out, up to `until`."""
        self.advance_to(until)


def _parse_generic(
    body: bytes,
    received_at: datetime,
    *,
    store_id: str,
    default_country: str | None,
    currency: str | None,
) -> list[Event]:
    return generic.parse(
        body,
        "application/json",
        store_id=store_id,
        default_country=default_country,
        received_at=received_at,
        currency=currency,
    )


def horizon(settings: Settings) -> timedelta:
    """How long after the last event pending runs are still played: the longest flow, from its
    abandonment to its last step, and a day for quiet hours to pass."""
    longest = max((_span(flow) for flow in settings.domain_flows()), default=timedelta(0))
    return longest + timedelta(days=1)


def _span(flow: Flow) -> timedelta:
    waits = (step.duration for step in flow.steps if isinstance(step, WaitStep))
    return flow.abandon_after + sum(waits, timedelta(0))
