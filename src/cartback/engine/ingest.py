"""Ingest: store the raw delivery first, then turn its events into carts, orders and consent."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine

from cartback.clock import Clock
from cartback.domain.events import Event
from cartback.domain.flow import Flow
from cartback.engine.apply import EventApplier, Windows
from cartback.store import deliveries
from cartback.store.db import write_transaction

log = logging.getLogger("cartback.ingest")

Parser = Callable[[bytes, datetime], list[Event]]


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
class Delivery:
    platform: str
    store_id: str
    topic: str | None
    delivery_key: str | None
    headers: Mapping[str, str]
    body: bytes


class IngestService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        flows: Callable[[str], list[Flow]],
        windows: Windows,
        payload_errors: tuple[type[Exception], ...] = (ValueError,),
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.applier = EventApplier(flows, windows)
        self.payload_errors = payload_errors

    def receive(self, delivery: Delivery, parse: Parser) -> IngestResult:
        now = self.clock.now()
        with write_transaction(self.engine) as conn:
            delivery_id, duplicate = deliveries.record(
                conn,
                deliveries.NewDelivery(
                    delivery.platform,
                    delivery.store_id,
                    delivery.topic,
                    delivery.delivery_key,
                    delivery.headers,
                    delivery.body,
                    now,
                ),
            )
        if duplicate:
            log.info("duplicate delivery", extra={"delivery_id": delivery_id})
            return IngestResult(Outcome.DUPLICATE, delivery_id)
        return self.process(delivery_id, delivery.body, parse)

    def process(
        self, delivery_id: int, body: bytes, parse: Parser, received_at: datetime | None = None
    ) -> IngestResult:
        """Parse and apply a stored delivery; used for new deliveries and for replays.

        A replay passes the time the delivery was received: a payload without a time of its own
        happened then, not when it was replayed.
        """
        now = self.clock.now()
        try:
            events = parse(body, received_at or now)
        except self.payload_errors as exc:
            return self._failed(delivery_id, str(exc), now)
        with write_transaction(self.engine) as conn:
            for event in events:
                self.applier.apply(conn, event, now)
            deliveries.mark(conn, delivery_id, deliveries.PROCESSED, now, None)
        return IngestResult(Outcome.PROCESSED, delivery_id, events=len(events))

    def _failed(self, delivery_id: int, error: str, now: datetime) -> IngestResult:
        with write_transaction(self.engine) as conn:
            deliveries.mark(conn, delivery_id, deliveries.FAILED, now, error)
        log.warning("delivery failed to parse", extra={"delivery_id": delivery_id, "error": error})
        return IngestResult(Outcome.FAILED, delivery_id, error=error)
