"""Ingest in two steps: record the raw delivery (deduplicated) and answer; apply it after.

`accept` is all a webhook does before it answers: the delivery is stored, so nothing is lost,
and queued to be applied (`engine/delivery_queue.py`) in arrival order per cart. `apply`
parses a stored delivery and applies its events in one transaction; it serves queued
deliveries and replays alike. `receive` does both at once, for the Magento poller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cartback.clock import Clock
from cartback.domain.bounds import printable
from cartback.domain.events import Event
from cartback.domain.flow import Flow
from cartback.domain.records import Delivery as StoredRecord
from cartback.domain.records import DeliveryStatus, NewDelivery
from cartback.engine.apply import EventApplier, Windows
from cartback.engine.privacy import Privacy
from cartback.metrics import Metrics
from cartback.store.base import LoopWriter, Store

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
    sequence_key: str | None = None  # what it is about (a cart), within its store


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
        """Store a delivery, to be applied by the queue: one short transaction."""
        [recorded] = self.record_many([delivery])
        return recorded

    def record_many(
        self, batch: Sequence[Delivery], inserted: Callable[[], None] | None = None
    ) -> list[Recorded]:
        """Store deliveries together (`engine/recorder.py` gathers them), committed on return
        (`Store.record_deliveries`). `inserted` is called once they are in, before a commit that
        comes after the insert (SQLite's)."""
        kept = self.store.record_deliveries([self._new(d) for d in batch], inserted)
        return _recorded(kept)

    async def record_on_loop(self, writer: LoopWriter, batch: Sequence[Delivery]) -> list[Recorded]:
        """`record_many` through the running loop's writer (`Store.loop_writer`)."""
        return _recorded(await writer.record_many([self._new(d) for d in batch]))

    def refuse(self, delivery: Delivery, error: str) -> int:
        """Store a delivery whose body cannot be read at all as failed, for a replay."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            delivery_id, _ = tx.deliveries.record(self._new(delivery))
            tx.deliveries.mark(delivery_id, DeliveryStatus.FAILED, now, printable(error, MAX_ERROR))
        self.metrics.count_delivery("failed")
        log.warning("delivery refused", extra={"delivery_id": delivery_id})
        return delivery_id

    def _new(self, delivery: Delivery) -> NewDelivery:
        sequence = delivery.store_id
        if delivery.sequence_key is not None:
            sequence = f"{delivery.store_id}:{delivery.sequence_key}"
        return NewDelivery(
            platform=delivery.platform,
            store_id=delivery.store_id,
            topic=delivery.topic,
            delivery_key=delivery.delivery_key,
            headers=delivery.headers,
            body=delivery.body,
            received_at=self.clock.now(),
            sequence_key=sequence,
        )

    def apply(self, delivery_id: int, parse: Parser) -> IngestResult:
        """Parse and apply a stored delivery (a replay, the poller)."""
        with self.store.reading() as tx:
            stored = tx.deliveries.get(delivery_id)
        if stored is None:
            raise LookupError(f"no stored delivery {delivery_id}")
        return self.apply_stored(stored, parse)

    def apply_stored(self, stored: StoredRecord, parse: Parser) -> IngestResult:
        """Apply a delivery as read from the store. A payload that cannot be read marks it
        failed, naming the problem; any other error marks it failed too, then propagates."""
        now = self.clock.now()
        try:
            return self._apply_stored(stored, parse, now)
        except Exception as exc:
            error = printable(f"{type(exc).__name__}: {exc}", MAX_ERROR)
            self._mark_failed(stored.id, error, now)
            log.warning("delivery failed unexpectedly", extra={"delivery_id": stored.id})
            raise

    def _apply_stored(self, stored: StoredRecord, parse: Parser, now: datetime) -> IngestResult:
        delivery_id = stored.id
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


def _recorded(kept: list[tuple[int, bool]]) -> list[Recorded]:
    for delivery_id, duplicate in kept:
        if duplicate:
            log.info("duplicate delivery", extra={"delivery_id": delivery_id})
    return [Recorded(delivery_id, duplicate) for delivery_id, duplicate in kept]
