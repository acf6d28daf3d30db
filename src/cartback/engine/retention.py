"""Retention: personal data past the configured age is removed, in small batches, daily.

Each batch is its own short transaction, so SQLite's write lock and PostgreSQL's row locks are
held briefly while webhooks keep arriving. What the report counts (messages, segments, cost,
orders, clicked carts) is never removed: only raw bodies, message words and recipients, and
the user agents of clicks and email opens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from cartback.clock import Clock
from cartback.engine.worker import Periodic
from cartback.store.base import Store
from cartback.store.upkeep import Cutoffs, Purged

log = logging.getLogger("cartback.retention")

BATCH = 1000


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind is kept (None: for good)."""

    raw_deliveries: timedelta | None = None
    message_texts: timedelta | None = None
    clicks: timedelta | None = None

    def cutoffs(self, now: datetime) -> Cutoffs:
        def before(age: timedelta | None) -> datetime | None:
            return now - age if age is not None else None

        return Cutoffs(before(self.raw_deliveries), before(self.message_texts), before(self.clicks))


def purge(store: Store, clock: Clock, keep: Retention, *, dry_run: bool = False) -> Purged:
    """Remove (or with `dry_run` count) what is past `keep`, batch by batch."""
    cutoffs = keep.cutoffs(clock.now())
    if dry_run:
        with store.reading() as tx:
            return tx.upkeep.purge(cutoffs, limit=2**31 - 1, dry_run=True)
    total = Purged()
    while True:
        with store.transaction() as tx:
            batch = tx.upkeep.purge(cutoffs, BATCH)
        total += batch
        if max(batch.raw_deliveries, batch.message_texts, batch.clicks, batch.opens) < BATCH:
            break
    if total.total:
        log.info(
            "personal data past retention removed",
            extra={
                "raw_deliveries": total.raw_deliveries,
                "message_texts": total.message_texts,
                "clicks": total.clicks,
                "opens": total.opens,
            },
        )
    return total


def retention_job(store: Store, clock: Clock, keep: Retention) -> Periodic:
    """The worker's daily purge (its first at the worker's first pass)."""
    return Periodic("retention:purge", timedelta(days=1), lambda: purge(store, clock, keep).total)
