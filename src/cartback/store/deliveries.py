"""The deliveries repository: raw webhook deliveries, stored first, applied after the answer.

A delivery is `received` until a worker applies it (`processed`) or gives up on it (`failed`).
Deliveries that share a `sequence_key` (one cart of one store) are applied in the order they
arrived: `claim` hands out only the oldest unapplied delivery of each sequence, so two workers
never apply a cart's update before its creation.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from cartback.domain.records import Delivery, DeliveryStatus, NewDelivery

if TYPE_CHECKING:
    from cartback.store.base import Store


class Deliveries(Protocol):
    def record(self, delivery: NewDelivery) -> tuple[int, bool]:
        """Store a raw delivery; its id, and whether the same key was already processed."""
        ...

    def record_many(self, batch: Sequence[NewDelivery]) -> list[tuple[int, bool]]:
        """`record` for each, in order, in few statements (concurrent webhooks' deliveries).
        A key repeated within the batch is stored once; each repeat gets the first's id."""
        ...

    def claim(self, now: datetime, limit: int, lease: timedelta) -> list[Delivery]:
        """Lease up to `limit` received deliveries until `now + lease`, oldest first: each the
        oldest received one of its sequence, and not leased by another worker. PostgreSQL skips
        rows another worker is claiming; SQLite holds its write lock (run it in `transaction`)."""
        ...

    def mark(
        self, delivery_id: int, status: DeliveryStatus, at: datetime, error: str | None
    ) -> None: ...
    def get(self, delivery_id: int) -> Delivery | None: ...
    def listing(
        self,
        *,
        status: DeliveryStatus | None,
        store_id: str | None,
        limit: int,
        after: int | None = None,
    ) -> list[Delivery]:
        """Newest first; `after`: only those older than the delivery with that id."""
        ...

    def processed_keys(self, platform: str, store_id: str, keys: Collection[str]) -> set[str]: ...


def record_in_a_transaction(
    store: Store, batch: Sequence[NewDelivery], inserted: Callable[[], None] | None
) -> list[tuple[int, bool]]:
    """`Store.record_deliveries` where the batch's commit is a transaction's (SQLite, memory):
    `inserted` is told once the rows are in, before the commit."""
    with store.transaction() as tx:
        kept = tx.deliveries.record_many(batch)
        if inserted is not None:
            inserted()
    return kept
