"""The SQL side of `store/upkeep.py`: the due backlog and retention's deletes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from cartback.domain.records import RunStatus
from cartback.store.tables import runs
from cartback.store.upkeep import Backlog


class SqlUpkeep:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def backlog(self, now: datetime) -> Backlog:
        # The partial index ix_runs_due (pending runs by next_run_at) answers this alone.
        row = self.conn.execute(
            select(func.count(), func.min(runs.c.next_run_at)).where(
                runs.c.status == str(RunStatus.PENDING), runs.c.next_run_at <= now
            )
        ).one()
        return Backlog(int(row[0]), row[1])
