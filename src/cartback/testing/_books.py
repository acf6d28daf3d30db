"""Webhook deliveries, promotional touches, discount code pools and poller cursors, in memory."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType

from cartback.domain.records import (
    CodeImport,
    Cursor,
    Delivery,
    DeliveryStatus,
    NewDelivery,
    Touch,
)
from cartback.testing._data import Data, PoolCode, TouchKey
from cartback.testing._tables import require, updated, utc, utc_or_none


class MemoryDeliveries:
    def __init__(self, data: Data) -> None:
        self.data = data
        self.table = data.deliveries

    def record(self, delivery: NewDelivery) -> tuple[int, bool]:
        if delivery.delivery_key is not None:
            key = (delivery.platform, delivery.store_id, delivery.delivery_key)
            found = self.data.delivery_by_key.get(key)
            if found is not None:
                return found, self.table.rows[found].status == DeliveryStatus.PROCESSED
        delivery_id = self.data.delivery_ids.next()
        stored = Delivery(
            platform=delivery.platform,
            store_id=delivery.store_id,
            topic=delivery.topic,
            delivery_key=delivery.delivery_key,
            headers=MappingProxyType(dict(delivery.headers)),
            body=bytes(delivery.body),
            received_at=utc(delivery.received_at),
            sequence_key=delivery.sequence_key,
            id=delivery_id,
            status=DeliveryStatus.RECEIVED,
        )
        self.table.insert(delivery_id, stored)
        return delivery_id, False

    def record_many(self, batch: Sequence[NewDelivery]) -> list[tuple[int, bool]]:
        return [self.record(delivery) for delivery in batch]

    def claim(self, now: datetime, limit: int, lease: timedelta) -> list[Delivery]:
        leases = self.data.delivery_leases
        waiting: set[str | None] = set()  # sequences with an older received delivery
        claimed: list[Delivery] = []
        for delivery_id in sorted(self.table.rows):
            delivery = self.table.rows[delivery_id]
            if delivery.status != DeliveryStatus.RECEIVED or len(claimed) >= limit:
                continue
            key = delivery.sequence_key
            blocked = key is not None and key in waiting
            waiting.add(key)
            until = leases.get(delivery_id)
            if blocked or (until is not None and until > now):
                continue
            if until is None:
                leases.insert(delivery_id, utc(now + lease))
            else:
                leases.replace(delivery_id, utc(now + lease))
            claimed.append(delivery)
        return claimed

    def mark(
        self, delivery_id: int, status: DeliveryStatus, at: datetime, error: str | None
    ) -> None:
        delivery = self.table.get(delivery_id)
        if delivery is None:
            return
        if delivery_id in self.data.delivery_leases:
            self.data.delivery_leases.delete(delivery_id)
        marked = updated(
            delivery,
            status=DeliveryStatus(status),
            error=error,
            processed_at=utc(at),
            attempts=delivery.attempts + 1,
        )
        self.table.replace(delivery_id, marked)

    def get(self, delivery_id: int) -> Delivery | None:
        return self.table.get(delivery_id)

    def listing(
        self,
        *,
        status: DeliveryStatus | None,
        store_id: str | None,
        limit: int,
        after: int | None = None,
    ) -> list[Delivery]:
        found: list[Delivery] = []
        for delivery_id in sorted(self.table.rows, reverse=True):
            if after is not None and delivery_id >= after:
                continue
            delivery = self.table.rows[delivery_id]
            if (status is None or delivery.status == status) and (
                store_id is None or delivery.store_id == store_id
            ):
                found.append(delivery)
                if len(found) >= limit:
                    break
        return found

    def processed_keys(self, platform: str, store_id: str, keys: Collection[str]) -> set[str]:
        done = set()
        for key in keys:
            found = self.data.delivery_by_key.get((platform, store_id, key))
            if found is not None and self.table.rows[found].status == DeliveryStatus.PROCESSED:
                done.add(key)
        return done


class MemoryTouches:
    def __init__(self, data: Data) -> None:
        self.data = data

    def add_many(self, touches: Iterable[Touch], now: datetime) -> int:
        utc(now)
        added = 0
        for touch in touches:
            key: TouchKey = (touch.address, touch.channel, utc(touch.sent_at), touch.source)
            if key not in self.data.touches:
                self.data.touches.insert(key, key)
                added += 1
        return added

    def last(self, address: str, channel: str | None, since: datetime) -> datetime | None:
        since = utc(since)
        return max(
            (
                sent_at
                for _address, kind, sent_at, _source in self.data.touches_by_address.get(address)
                if sent_at >= since and (channel is None or kind == channel)
            ),
            default=None,
        )


class MemoryCodes:
    def __init__(self, data: Data) -> None:
        self.data = data
        self.table = data.codes

    def import_codes(
        self, store_id: str, codes: Sequence[str], now: datetime, expires_at: datetime | None
    ) -> CodeImport:
        now, expires_at = utc(now), utc_or_none(expires_at)
        added = 0
        for code in dict.fromkeys(codes):
            if self.data.code_by_store_code.get((store_id, code)) is not None:
                continue
            code_id = self.data.code_ids.next()
            self.table.insert(code_id, PoolCode(code_id, store_id, code, now, expires_at))
            added += 1
        return CodeImport(added=added, duplicates=len(codes) - added)

    def claim(self, store_id: str, cart_id: int, now: datetime) -> str | None:
        now = utc(now)
        for code_id in self.data.codes_by_cart.get((store_id, cart_id)):
            held = self.table.rows[code_id]
            if _unexpired(held, now):
                return held.code
        for code_id in self.data.codes_by_store.get(store_id):
            free = self.table.rows[code_id]
            if free.used_at is None and _unexpired(free, now):
                require(self.data.carts, cart_id, "cart")
                self.table.replace(code_id, updated(free, used_by_cart_id=cart_id, used_at=now))
                return free.code
        return None

    def remaining(self, store_id: str, now: datetime) -> int:
        now = utc(now)
        rows = self.table.rows
        return sum(
            1
            for code_id in self.data.codes_by_store.get(store_id)
            if rows[code_id].used_at is None and _unexpired(rows[code_id], now)
        )


def _unexpired(code: PoolCode, now: datetime) -> bool:
    return code.expires_at is None or code.expires_at > now


class MemoryCursors:
    def __init__(self, data: Data) -> None:
        self.data = data
        self.table = data.cursors

    def get(self, name: str) -> Cursor | None:
        return self.table.get(name)

    def save(self, name: str, value: str, now: datetime) -> None:
        found = self.table.get(name)
        if found is None:
            self.table.insert(name, Cursor(name, value, utc(now)))
        else:
            self.table.replace(name, updated(found, value=value, updated_at=utc(now)))

    def record_failure(self, name: str, now: datetime, retry_at: datetime) -> int:
        found = self.table.get(name) or Cursor(name, "", utc(now))
        failed = updated(
            found, failures=found.failures + 1, retry_at=utc(retry_at), updated_at=utc(now)
        )
        if name in self.table:
            self.table.replace(name, failed)
        else:
            self.table.insert(name, failed)
        return failed.failures

    def clear_failures(self, name: str, now: datetime) -> None:
        found = self.table.get(name)
        if found is not None:
            self.table.replace(name, updated(found, failures=0, retry_at=None, updated_at=utc(now)))


class MemorySecrets:
    def __init__(self, data: Data) -> None:
        self.table = data.secrets

    def keep(self, name: str, value: str, now: datetime) -> str:
        kept = self.table.get(name)
        if kept is None:
            kept = self.table.insert(name, value)
        return kept
