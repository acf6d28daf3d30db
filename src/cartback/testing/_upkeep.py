"""The in-memory side of `store/upkeep.py`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cartback.domain.privacy import ERASED, ERASED_PREFIX
from cartback.domain.records import DeliveryStatus, RunStatus
from cartback.store.upkeep import Backlog, Cutoffs, Purged
from cartback.testing._data import Data
from cartback.testing._tables import Table, updated, utc

_DONE = (DeliveryStatus.PROCESSED, DeliveryStatus.FAILED)


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

    def analyze_grown(self) -> list[str]:
        return []  # no planner here

    def purge(self, cutoffs: Cutoffs, limit: int, *, dry_run: bool = False) -> Purged:
        data = self.data
        found = Purged()
        if cutoffs.raw_deliveries is not None:
            before = utc(cutoffs.raw_deliveries)
            old = [
                d.id
                for d in data.deliveries.values()
                if d.received_at < before and d.status in _DONE
            ]
            old = sorted(old)[:limit]
            for delivery_id in [] if dry_run else old:
                data.deliveries.delete(delivery_id)
            found += Purged(raw_deliveries=len(old))
        if cutoffs.message_texts is not None:
            before = utc(cutoffs.message_texts)
            texts = sorted(
                m.id for m in data.messages.values() if m.created_at < before and _kept(m.recipient)
            )[:limit]
            for message_id in [] if dry_run else texts:
                message = data.messages.get(message_id)
                if message is not None:
                    data.messages.replace(
                        message_id, updated(message, body=ERASED, recipient=ERASED)
                    )
            found += Purged(message_texts=len(texts))
        if cutoffs.clicks is not None:
            before = utc(cutoffs.clicks)
            found += Purged(
                clicks=_forget_agents(data.clicks, before, limit, dry_run),
                opens=_forget_agents(data.opens, before, limit, dry_run),
            )
        return found


def _forget_agents(table: Table[int, Any], before: datetime, limit: int, dry_run: bool) -> int:
    """Clicks or opens from before `before` lose their user agent, `limit` at most."""
    seen = sorted(row.id for row in table.values() if row.at < before and row.user_agent)[:limit]
    for row_id in [] if dry_run else seen:
        row = table.get(row_id)
        if row is not None:
            table.replace(row_id, updated(row, user_agent=None))
    return len(seen)


def _kept(recipient: str) -> bool:
    """Not yet purged, nor erased (an erasure's keyed hash stays as it is)."""
    return recipient != ERASED and not recipient.startswith(ERASED_PREFIX)
