"""The store's upkeep: what operations reads (the due backlog) and removes (retention), and
the planner's statistics of tables that grew fast.

A repository of its own (`tx.upkeep`) so that `store/base.py` keeps its size; both stores
implement it and the contract suite checks them alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

GROWN = 500  # rows changed since a table's last ANALYZE, at the least, before another


@dataclass(frozen=True, slots=True)
class Backlog:
    """Pending runs whose time has come, and when the oldest of them was due."""

    due: int
    oldest_due_at: datetime | None


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Personal data from before these instants goes (None: kept for good)."""

    raw_deliveries: datetime | None = None
    message_texts: datetime | None = None
    clicks: datetime | None = None


@dataclass(frozen=True, slots=True)
class Purged:
    """How many rows lost their personal data, per kind."""

    raw_deliveries: int = 0
    message_texts: int = 0
    clicks: int = 0
    opens: int = 0  # an email open's user agent goes with the clicks' retention

    def __add__(self, other: Purged) -> Purged:
        return Purged(
            self.raw_deliveries + other.raw_deliveries,
            self.message_texts + other.message_texts,
            self.clicks + other.clicks,
            self.opens + other.opens,
        )

    @property
    def total(self) -> int:
        return self.raw_deliveries + self.message_texts + self.clicks + self.opens


class Upkeep(Protocol):
    def backlog(self, now: datetime) -> Backlog:
        """The pending runs due at `now`; as cheap as the number of due rows."""
        ...

    def analyze_grown(self) -> list[str]:
        """PostgreSQL: ANALYZE the tables that changed by more rows than they held at their
        last ANALYZE (and by at least `GROWN`), and return their names. A new database filling
        fast is otherwise planned from the statistics of empty tables until autovacuum's first
        pass (a minute apart at best): every look-up a sequential scan, and a prepared
        statement's generic plan keeps that choice. A table this role may not analyze is left
        alone. Elsewhere there is nothing to do: []."""
        ...

    def purge(self, cutoffs: Cutoffs, limit: int, *, dry_run: bool = False) -> Purged:
        """Up to `limit` rows of each kind from before its cutoff lose their personal data:
        applied or failed raw deliveries are deleted (one still waiting to be applied stays);
        a message keeps its counts, cost and status, its text and recipient become `[erased]`
        (one an erasure already hashed is left as it is); a click
        and an email open keep their time, cart and bot verdict but not their user agent (both
        by the `clicks` cutoff). A row already purged is not counted
        again. `dry_run`: count what would go, change nothing."""
        ...
