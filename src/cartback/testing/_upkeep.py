"""The in-memory side of `store/upkeep.py`."""

from __future__ import annotations

from datetime import datetime

from cartback.domain.privacy import ERASED, ERASED_PREFIX
from cartback.domain.records import DeliveryStatus, RunStatus
from cartback.store.upkeep import Backlog, Cutoffs, Purged
from cartback.testing._data import Data
from cartback.testing._tables import updated, utc

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
            seen = sorted(c.id for c in data.clicks.values() if c.at < before and c.user_agent)
            seen = seen[:limit]
            for click_id in [] if dry_run else seen:
                click = data.clicks.get(click_id)
                if click is not None:
                    data.clicks.replace(click_id, updated(click, user_agent=None))
            found += Purged(clicks=len(seen))
        return found


def _kept(recipient: str) -> bool:
    """Not yet purged, nor erased (an erasure's keyed hash stays as it is)."""
    return recipient != ERASED and not recipient.startswith(ERASED_PREFIX)
