"""The store's upkeep: what operations reads (the due backlog) and removes (retention).

A repository of its own (`tx.upkeep`) so that `store/base.py` keeps its size; both stores
implement it and the contract suite checks them alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Backlog:
    """Pending runs whose time has come, and when the oldest of them was due."""

    due: int
    oldest_due_at: datetime | None


class Upkeep(Protocol):
    def backlog(self, now: datetime) -> Backlog:
        """The pending runs due at `now`; as cheap as the number of due rows."""
        ...
