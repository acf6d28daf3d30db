"""Applying stored deliveries after the webhook was answered, in arrival order per cart.

The deliveries table is the queue, claimed like due runs: any worker takes a batch of received
deliveries (the store hands out only the oldest of each cart, leased), parses and applies each
in its own transaction, and marks it processed or failed. A worker process does this on every
pass; a server whose worker runs in the same process also drains the queue right after each
answer (`drain`), so a delivery is applied within moments of its arrival.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from cartback.clock import Clock
from cartback.domain.records import Delivery, DeliveryStatus
from cartback.engine.ingest import IngestService, Parser
from cartback.store.base import Store

log = logging.getLogger("cartback.ingest")

ParserOf = Callable[[Delivery], Parser | None]  # None: the delivery's store is not configured
YIELD = 3.0  # while webhooks arrive, applying takes at most a quarter of the time


class DeliveryQueue:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        ingest: IngestService,
        parser_of: ParserOf,
        *,
        batch_size: int = 100,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.store = store
        self.clock = clock
        self.ingest = ingest
        self.parser_of = parser_of
        self.batch_size = batch_size
        self.lease = lease
        self._draining = threading.Lock()
        self._again = False
        # In a process that also answers webhooks: true while they arrive (see `_pace`).
        self.webhooks_busy: Callable[[], bool] | None = None

    def apply_pending(self) -> int:
        """Claim one batch and apply it; how many were claimed (a full batch: go again)."""
        with self.store.transaction() as tx:
            claimed = tx.deliveries.claim(self.clock.now(), self.batch_size, self.lease)
        for delivery in claimed:
            started = time.monotonic()
            self._apply(delivery)
            self._pace(time.monotonic() - started)
        return len(claimed)

    def _pace(self, spent: float) -> None:
        """Give way to the webhooks of this process: while they arrive, pause `YIELD` times as
        long as the last delivery took to apply. Applying shares the interpreter and (SQLite)
        the write lock with answering; answers come first, the queue catches up after a burst."""
        if self.webhooks_busy is not None and self.webhooks_busy():
            time.sleep(spent * YIELD)

    def running_asked_again(self) -> bool:
        """True when a drain is running, which is then asked to look again: a caller need not
        start another (a webhook answer spares itself a thread). False: call `drain`."""
        if not self._draining.locked():
            return False
        self._again = True
        return True

    def drain(self) -> int:
        """Apply until nothing is pending. One drain runs at a time: a call made while another
        runs asks it to look again instead, so the answer that called it is not held up."""
        applied = 0
        while True:
            if not self._draining.acquire(blocking=False):
                self._again = True
                return applied
            try:
                applied += self._until_empty()
            finally:
                self._draining.release()
            if not self._again:
                return applied

    def _until_empty(self) -> int:
        applied = 0
        while True:
            self._again = False
            claimed = self.apply_pending()
            applied += claimed
            if claimed == 0 and not self._again:
                return applied

    def _apply(self, delivery: Delivery) -> None:
        parse = self.parser_of(delivery)
        if parse is None:
            self._fail(delivery, f"store {delivery.store_id!r} is not configured")
            return
        try:
            self.ingest.apply_stored(delivery, parse)
        except Exception:
            # Marked failed with its error (listed, replayable); the queue goes on.
            log.exception("applying a delivery failed", extra={"delivery_id": delivery.id})

    def _fail(self, delivery: Delivery, error: str) -> None:
        with self.store.transaction() as tx:
            tx.deliveries.mark(delivery.id, DeliveryStatus.FAILED, self.clock.now(), error)
        log.warning("delivery failed", extra={"delivery_id": delivery.id})
