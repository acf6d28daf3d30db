"""Ingest in two steps: record the raw delivery (deduplicated) and answer; apply it after.

`record` is all a webhook needs before it answers: the delivery is stored, so nothing is lost.
`apply` parses a stored delivery and applies its events in one transaction; it serves new
deliveries and replays alike. Today the API calls both before answering (`receive`); applying
after the answer only moves the `apply` call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cartback.clock import Clock
from cartback.domain.bounds import printable
from cartback.domain.events import Event
from cartback.domain.flow import Flow
from cartback.domain.records import DeliveryStatus, NewDelivery
from cartback.engine.apply import EventApplier, Windows
from cartback.engine.privacy import Privacy
from cartback.metrics import Metrics
from cartback.store.base import Store

log = logging.getLogger("cartback.ingest")

Parser = Callable[[bytes, datetime], list[Event]]
# Completes parsed events with what the payload lacks (a shop's admin API), outside any
# transaction: the store id and the events in, the events to apply out.
Enrich = Callable[[str, list[Event]], list[Event]]
MAX_ERROR = 2000  # characters of an error kept with a failed delivery


class Outcome(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class IngestResult:
    outcome: Outcome
    delivery_id: int
    events: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    delivery_id: int
    duplicate: bool  # the same delivery was already processed


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery as it arrived, before it is stored."""

    platform: str
    store_id: str
    topic: str | None
    delivery_key: str | None
    headers: Mapping[str, str]
    body: bytes


class IngestService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        flows: Callable[[str], list[Flow]],
        windows: Windows,
        payload_errors: tuple[type[Exception], ...] = (ValueError,),
        *,
        privacy: Privacy,
        enrich: Enrich | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.applier = EventApplier(flows, windows, privacy)
        self.payload_errors = payload_errors
        self.enrich = enrich

    def receive(self, delivery: Delivery, parse: Parser) -> IngestResult:
        """Record, then apply at once (what a webhook does until applying moves after it)."""
        recorded = self.record(delivery)
        if recorded.duplicate:
            return IngestResult(Outcome.DUPLICATE, recorded.delivery_id)
        return self.apply(recorded.delivery_id, parse)

    def record(self, delivery: Delivery) -> Recorded:
        new = NewDelivery(
            platform=delivery.platform,
            store_id=delivery.store_id,
            topic=delivery.topic,
            delivery_key=delivery.delivery_key,
            headers=delivery.headers,
            body=delivery.body,
            received_at=self.clock.now(),
        )
        with self.store.transaction() as tx:
            delivery_id, duplicate = tx.deliveries.record(new)
        if duplicate:
            log.info("duplicate delivery", extra={"delivery_id": delivery_id})
        return Recorded(delivery_id, duplicate)

    def apply(self, delivery_id: int, parse: Parser) -> IngestResult:
        """Parse and apply a stored delivery. A payload that cannot be read marks it failed (the
        answer names the problem); any other error marks it failed too, then propagates."""
        now = self.clock.now()
        try:
            return self._apply(delivery_id, parse, now)
        except Exception as exc:
            error = printable(f"{type(exc).__name__}: {exc}", MAX_ERROR)
            self._mark_failed(delivery_id, error, now)
            log.warning("delivery failed unexpectedly", extra={"delivery_id": delivery_id})
            raise

    def _apply(self, delivery_id: int, parse: Parser, now: datetime) -> IngestResult:
        with self.store.reading() as tx:
            stored = tx.deliveries.get(delivery_id)
        if stored is None:
            raise LookupError(f"no stored delivery {delivery_id}")
        try:
            # A payload without a time of its own happened when it was received, not replayed.
            events = parse(stored.body, stored.received_at)
        except self.payload_errors as exc:
            self._mark_failed(delivery_id, printable(str(exc), MAX_ERROR), now)
            log.warning("delivery failed to parse", extra={"delivery_id": delivery_id})
            return IngestResult(Outcome.FAILED, delivery_id, error=str(exc))
        if self.enrich is not None:
            events = self.enrich(stored.store_id, events)
        with self.store.transaction() as tx:
            for event in events:
                self.applier.apply(tx, event, now)
            tx.deliveries.mark(delivery_id, DeliveryStatus.PROCESSED, now, None)
        self.metrics.count_delivery("applied")
        return IngestResult(Outcome.PROCESSED, delivery_id, events=len(events))

    def _mark_failed(self, delivery_id: int, error: str, now: datetime) -> None:
        with self.store.transaction() as tx:
            tx.deliveries.mark(delivery_id, DeliveryStatus.FAILED, now, error)
        self.metrics.count_delivery("failed")
