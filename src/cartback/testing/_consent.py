"""The consent ledger, the suppression list and the replies recipients sent, in memory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartback.domain.records import STOP_REPLY, ConsentEntry, Reply, Suppression
from cartback.testing._data import Data, KeptReply
from cartback.testing._tables import updated, utc


def _order(entry: ConsentEntry) -> tuple[datetime, int]:
    return entry.occurred_at, entry.id


class MemoryConsent:
    def __init__(self, data: Data) -> None:
        self.data = data
        self.ledger = data.consent

    def latest(self, store_id: str, channel: str, address: str) -> ConsentEntry | None:
        return max(
            (e for e in self._of(address) if e.store_id == store_id and e.channel == channel),
            key=_order,
            default=None,
        )

    def add(self, entry: ConsentEntry) -> None:
        entry_id = self.data.consent_ids.next()
        stored = updated(
            entry,
            id=entry_id,
            occurred_at=utc(entry.occurred_at),
            recorded_at=utc(entry.recorded_at),
        )
        self.ledger.insert(entry_id, stored)

    def add_once(self, entry: ConsentEntry) -> bool:
        occurred_at = utc(entry.occurred_at)
        for kept in self._of(entry.address):
            if (
                kept.store_id == entry.store_id
                and kept.channel == entry.channel
                and kept.granted == entry.granted
                and kept.source == entry.source
                and kept.occurred_at == occurred_at
            ):
                return False
        self.add(entry)
        return True

    def history(self, address: str, store_id: str | None = None) -> list[ConsentEntry]:
        found = [e for e in self._of(address) if store_id is None or e.store_id == store_id]
        return sorted(found, key=_order)

    def is_suppressed(self, channel: str, address: str) -> bool:
        return (channel, address) in self.data.suppressions

    def replied_stop(self, phone: str) -> bool:
        found = self.data.suppressions.get(("sms", phone))
        return found is not None and found.reason == STOP_REPLY

    def blocked(self, channel: str, addresses: Sequence[str], stop_phones: Sequence[str]) -> bool:
        return any(self.is_suppressed(channel, a) for a in addresses) or any(
            self.replied_stop(phone) for phone in stop_phones
        )

    def suppress(self, suppression: Suppression) -> None:
        key = (suppression.channel, suppression.address)
        if key in self.data.suppressions:
            return
        stored = updated(suppression, created_at=utc(suppression.created_at))
        self.data.suppressions.insert(key, stored)

    def unsuppress(self, channel: str, address: str) -> None:
        if (channel, address) in self.data.suppressions:
            self.data.suppressions.delete((channel, address))

    def suppressions(self, address: str) -> list[Suppression]:
        rows = self.data.suppressions.rows
        return [rows[key] for key in self.data.suppressions_by_address.get(address)]

    def add_reply(self, reply: Reply, action: str, now: datetime) -> bool:
        key = (reply.provider, reply.provider_id)
        if key in self.data.replies:
            return False
        kept = updated(reply, received_at=utc(reply.received_at))
        self.data.replies.insert(key, KeptReply(kept, action, utc(now)))
        return True

    def _of(self, address: str) -> list[ConsentEntry]:
        rows = self.ledger.rows
        return [rows[i] for i in self.data.consent_by_address.get(address)]
