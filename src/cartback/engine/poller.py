"""Polling Magento stores for carts and orders, feeding each one through ingest.

Every polled cart and order becomes a stored delivery (deduplicated by `cart:<id>:<updated_at>`
and `order:<entity_id>`), so a restart that re-reads them repeats nothing and a parser fix can
be replayed. Paging is by key, not by offset: each page asks for `updated_at >= <newest seen>`,
oldest first, so carts that change or are bought while we page (and so drop out of, or move
within, the result) are never skipped. Only when a whole page shares one timestamp does it step to
the next page, stopping at the last page by `total_count` (Magento clamps a page beyond it).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cartback.clock import Clock
from cartback.config import StoreConfig
from cartback.engine.ingest import Delivery, IngestService, Outcome, Parser
from cartback.integrations import magento
from cartback.integrations.magento_client import (
    MagentoClient,
    MagentoError,
    MagentoUnavailable,
    format_time,
    parse_time,
)
from cartback.integrations.registry import PLATFORMS
from cartback.store.base import Store

log = logging.getLogger("cartback.poller")

PLATFORM = "magento"


def parser_for(store: StoreConfig, topic: str | None) -> Parser:
    """The parse of a stored Magento delivery (polled `cart`/`order`, or a webhook's topic)."""
    return PLATFORMS.parser_for(store, PLATFORM, topic, {})


def carts_cursor(store_id: str) -> str:
    return f"magento:{store_id}:carts"


def orders_cursor(store_id: str) -> str:
    return f"magento:{store_id}:orders"


@dataclass
class _Run:
    """One store's share of one `poll_due` call."""

    store: StoreConfig
    client: MagentoClient
    deadline: float
    stored: int = 0
    out_of_time: bool = False
    seen: set[str] = field(default_factory=set)


class MagentoPoller:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        ingest: IngestService,
        stores: list[StoreConfig],
        client_factory: Callable[[StoreConfig], MagentoClient],
        page_size: int = 100,
        *,
        budget: timedelta = timedelta(seconds=30),
        max_backoff: timedelta = timedelta(hours=1),
        initial_lookback: timedelta = timedelta(hours=1),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.clock = clock
        self.ingest = ingest
        self.stores = [store for store in stores if store.platform == PLATFORM]
        self.client_factory = client_factory
        self.page_size = page_size
        self.budget = budget
        self.max_backoff = max_backoff
        self.initial_lookback = initial_lookback
        self.monotonic = monotonic
        self._clients: dict[str, MagentoClient] = {}
        self._last_polled: dict[str, datetime] = {}
        self._behind: set[str] = set()

    def parser_for(self, store: StoreConfig, topic: str | None = magento.CART_TOPIC) -> Parser:
        return parser_for(store, topic)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def poll_due(self) -> int:
        """Poll every store that is due; return how many new carts and orders were stored.

        A store that fails or runs out of its time budget never stops the others.
        """
        stored = 0
        for store in self.stores:
            if self._due(store):
                stored += self._poll_guarded(store)
        return stored

    # --- scheduling -------------------------------------------------------------------------

    def _due(self, store: StoreConfig) -> bool:
        now = self.clock.now()
        with self.store.reading() as tx:
            state = tx.cursors.get(carts_cursor(store.id))
        if state is not None and state.retry_at is not None and state.retry_at > now:
            return False
        last = self._last_polled.get(store.id)
        if last is None or store.id in self._behind:
            return True
        return now - last >= store.poll_every

    def _poll_guarded(self, store: StoreConfig) -> int:
        self._last_polled[store.id] = self.clock.now()
        run = _Run(store, self._client(store), self.monotonic() + self.budget.total_seconds())
        try:
            self._poll_carts(run)
            self._poll_orders(run)
        except MagentoError as exc:
            self._back_off(store, exc)
            return run.stored
        except Exception:
            log.exception("magento poll failed", extra={"store": store.id})
            self._back_off(store, None)
            return run.stored
        self._finished(run)
        return run.stored

    def _finished(self, run: _Run) -> None:
        store_id = run.store.id
        with self.store.transaction() as tx:
            tx.cursors.clear_failures(carts_cursor(store_id), self.clock.now())
        if run.out_of_time:
            self._behind.add(store_id)
            log.info("magento poll out of time; continuing next round", extra={"store": store_id})
        else:
            self._behind.discard(store_id)

    def _back_off(self, store: StoreConfig, error: MagentoError | None) -> None:
        now = self.clock.now()
        name = carts_cursor(store.id)
        with self.store.transaction() as tx:
            state = tx.cursors.get(name)
            failures = (state.failures if state is not None else 0) + 1
            delay = self._delay(store, failures, error)
            tx.cursors.record_failure(name, now, now + delay)
        extra = {"store": store.id, "failures": failures, "retry_in": int(delay.total_seconds())}
        if isinstance(error, MagentoUnavailable):
            log.warning("magento unavailable: %s", error, extra=extra)
        elif error is not None:
            log.error("magento refused the poll: %s", error, extra=extra)

    def _delay(self, store: StoreConfig, failures: int, error: MagentoError | None) -> timedelta:
        delay: timedelta = min(store.poll_every * (2**failures), self.max_backoff)
        if isinstance(error, MagentoUnavailable) and error.retry_after is not None:
            delay = max(delay, timedelta(seconds=error.retry_after))
        return delay

    def _client(self, store: StoreConfig) -> MagentoClient:
        if store.id not in self._clients:
            self._clients[store.id] = self.client_factory(store)
        return self._clients[store.id]

    # --- carts ------------------------------------------------------------------------------

    def _poll_carts(self, run: _Run) -> None:
        name = carts_cursor(run.store.id)
        since, page = self._start(name), 1
        while not self._late(run):
            result = run.client.search_carts(since, page, self.page_size)
            self._ingest_carts(run, result.carts)
            top = max((parse_time(cart["updated_at"]) for cart in result.carts), default=since)
            since, page, more = _next(since, top, page, result.last_page, len(result.carts))
            self._save(name, since)
            if not more or len(result.carts) < self.page_size:
                return

    def _ingest_carts(self, run: _Run, carts: list[dict[str, Any]]) -> None:
        keyed = {f"cart:{cart['id']}:{cart['updated_at']}": cart for cart in carts}
        for key in self._new_keys(run, keyed):
            cart = keyed[key]
            body = {"cart": cart, "totals": self._totals(run, str(cart["id"]))}
            self._receive(run, magento.CART_TOPIC, key, body)

    def _totals(self, run: _Run, cart_id: str) -> dict[str, Any] | None:
        try:
            return run.client.cart_totals(cart_id).raw
        except MagentoUnavailable:
            raise
        except MagentoError as exc:
            if exc.status != 404:
                raise
            return None  # the cart went away between the search and now

    # --- orders -----------------------------------------------------------------------------

    def _poll_orders(self, run: _Run) -> None:
        name = orders_cursor(run.store.id)
        since, page = self._start(name), 1
        while not self._late(run):
            result = run.client.search_orders(since, page, self.page_size)
            keyed = {f"order:{order['entity_id']}": order for order in result.orders}
            for key in self._new_keys(run, keyed):
                self._receive(run, magento.ORDER_TOPIC, key, {"order": keyed[key]})
            top = max((parse_time(o["created_at"]) for o in result.orders), default=since)
            since, page, more = _next(since, top, page, result.last_page, len(result.orders))
            self._save(name, since)
            if not more or len(result.orders) < self.page_size:
                return

    # --- shared -----------------------------------------------------------------------------

    def _start(self, name: str) -> datetime:
        with self.store.reading() as tx:
            state = tx.cursors.get(name)
        if state is None or not state.value:
            return self.clock.now() - self.initial_lookback
        return parse_time(state.value)

    def _save(self, name: str, since: datetime) -> None:
        with self.store.transaction() as tx:
            tx.cursors.save(name, format_time(since), self.clock.now())

    def _late(self, run: _Run) -> bool:
        if self.monotonic() > run.deadline:
            run.out_of_time = True
        return run.out_of_time

    def _new_keys(self, run: _Run, keyed: dict[str, dict[str, Any]]) -> Iterable[str]:
        fresh = [key for key in keyed if key not in run.seen]
        with self.store.reading() as tx:
            done = tx.deliveries.processed_keys(PLATFORM, run.store.id, fresh)
        run.seen.update(fresh)
        return [key for key in fresh if key not in done]

    def _receive(self, run: _Run, topic: str, key: str, body: dict[str, Any]) -> None:
        delivery = Delivery(PLATFORM, run.store.id, topic, key, {}, json.dumps(body).encode())
        result = self.ingest.receive(delivery, parser_for(run.store, topic))
        if result.outcome != Outcome.DUPLICATE:
            run.stored += 1
        if result.outcome == Outcome.FAILED:
            log.warning(
                "magento %s could not be parsed; stored for replay",
                topic,
                extra={"store": run.store.id, "delivery_id": result.delivery_id},
            )


def _next(
    since: datetime, top: datetime, page: int, last_page: int, count: int
) -> tuple[datetime, int, bool]:
    """Where the next page starts: (since, page, whether there may be more)."""
    if top > since:
        return top, 1, True
    if page < last_page and count > 0:
        return since, page + 1, True  # a full page of one timestamp: step through it
    return since, page, False
