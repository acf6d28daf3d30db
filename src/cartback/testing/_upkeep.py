"""The in-memory side of `store/upkeep.py`."""

from __future__ import annotations

from datetime import datetime

from cartback.domain.records import RunStatus
from cartback.store.upkeep import Backlog
from cartback.testing._data import Data
from cartback.testing._tables import utc


class MemoryUpkeep:
    def __init__(self, data: Data) -> None:
        self.data = data

    def backlog(self, now: datetime) -> Backlog:
        now = utc(now)
        due = [
            run.next_run_at
            for run in self.data.runs.values()
            if run.status == RunStatus.PENDING
            and run.next_run_at is not None
            and run.next_run_at <= now
        ]
        return Backlog(len(due), min(due, default=None))
