"""Raw webhook deliveries: stored first and deduplicated, applied after, kept for replay.

`record` is the webhook's whole database work, so it is one statement in the common case: an
insert that does nothing on a repeated delivery key (then the stored one is looked up).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, exists, insert, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from cartback.domain.records import Delivery, DeliveryStatus, NewDelivery
from cartback.store.tables import deliveries
from cartback.store.types import AnyRow

_PROCESSED = str(DeliveryStatus.PROCESSED)
_RECEIVED = str(DeliveryStatus.RECEIVED)
_KEY = ("platform", "store_id", "delivery_key")
_Key = tuple[str, str, str]  # a delivery key with its platform and store


class SqlDeliveries:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record(self, delivery: NewDelivery) -> tuple[int, bool]:
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(deliveries)
            .values(**_values(delivery))
            .on_conflict_do_nothing(index_elements=_KEY)
            .returning(deliveries.c.id)
        )
        row_id = self.conn.execute(statement).scalar()
        if row_id is not None:
            return int(row_id), False
        # The same delivery was stored before, or by a request racing this one.
        existing = self.conn.execute(
            select(deliveries.c.id, deliveries.c.status).where(
                deliveries.c.platform == delivery.platform,
                deliveries.c.store_id == delivery.store_id,
                deliveries.c.delivery_key == delivery.delivery_key,
            )
        ).one()
        return int(existing.id), existing.status == _PROCESSED

    def record_many(self, batch: Sequence[NewDelivery]) -> list[tuple[int, bool]]:
        """`record` for many, in two statements: the keys seen before, then one insert."""
        if len(batch) == 1:
            return [self.record(batch[0])]
        seen = self._seen([_key(d) for d in batch if d.delivery_key is not None])
        fresh: dict[_Key | int, int] = {}  # key (or place) → index in `rows`
        rows: list[dict[str, object]] = []
        for place, delivery in enumerate(batch):
            key = _key(delivery) if delivery.delivery_key is not None else place
            if key not in seen and key not in fresh:
                fresh[key] = len(rows)
                rows.append(_values(delivery))
        ids: list[int] = []
        if rows:
            statement = insert(deliveries).returning(deliveries.c.id, sort_by_parameter_order=True)
            ids = [int(row.id) for row in self.conn.execute(statement, rows)]
        kept: list[tuple[int, bool]] = []
        for place, delivery in enumerate(batch):
            key = _key(delivery) if delivery.delivery_key is not None else place
            kept.append(seen[key] if key in seen else (ids[fresh[key]], False))
        return kept

    def _seen(
        self, keys: list[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str] | int, tuple[int, bool]]:
        if not keys:
            return {}
        rows = self.conn.execute(
            select(
                deliveries.c.id,
                deliveries.c.platform,
                deliveries.c.store_id,
                deliveries.c.delivery_key,
                deliveries.c.status,
            ).where(
                tuple_(deliveries.c.platform, deliveries.c.store_id, deliveries.c.delivery_key).in_(
                    keys
                )
            )
        )
        return {
            (row.platform, row.store_id, row.delivery_key): (int(row.id), row.status == _PROCESSED)
            for row in rows
        }

    def claim(self, now: datetime, limit: int, lease: timedelta) -> list[Delivery]:
        earlier = deliveries.alias("earlier")
        waits = exists().where(
            earlier.c.sequence_key == deliveries.c.sequence_key,
            earlier.c.status == _RECEIVED,
            earlier.c.id < deliveries.c.id,
        )
        free = (
            select(deliveries.c.id)
            .where(
                deliveries.c.status == _RECEIVED,
                or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until <= now),
                ~waits,
            )
            .order_by(deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = self.conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(free.scalar_subquery()))
            .values(claimed_until=now + lease)
            .returning(*deliveries.c)
        ).all()
        return sorted((delivery_from(row) for row in rows), key=lambda d: d.id)

    def mark(
        self, delivery_id: int, status: DeliveryStatus, at: datetime, error: str | None
    ) -> None:
        self.conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(
                status=str(status),
                error=error,
                processed_at=at,
                claimed_until=None,
                attempts=deliveries.c.attempts + 1,
            )
        )

    def get(self, delivery_id: int) -> Delivery | None:
        row = self.conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
        return delivery_from(row) if row is not None else None

    def listing(
        self,
        *,
        status: DeliveryStatus | None,
        store_id: str | None,
        limit: int,
        after: int | None = None,
    ) -> list[Delivery]:
        query = select(deliveries)
        if after is not None:
            query = query.where(deliveries.c.id < after)
        if status is not None:
            query = query.where(deliveries.c.status == str(status))
        if store_id is not None:
            query = query.where(deliveries.c.store_id == store_id)
        rows = self.conn.execute(query.order_by(deliveries.c.id.desc()).limit(limit))
        return [delivery_from(row) for row in rows]

    def processed_keys(self, platform: str, store_id: str, keys: Collection[str]) -> set[str]:
        if not keys:
            return set()
        rows = self.conn.execute(
            select(deliveries.c.delivery_key).where(
                deliveries.c.platform == platform,
                deliveries.c.store_id == store_id,
                deliveries.c.delivery_key.in_(list(keys)),
                deliveries.c.status == _PROCESSED,
            )
        )
        return {row.delivery_key for row in rows}


def _key(delivery: NewDelivery) -> _Key:
    return (delivery.platform, delivery.store_id, delivery.delivery_key or "")


def _values(delivery: NewDelivery) -> dict[str, object]:
    return {
        "platform": delivery.platform,
        "store_id": delivery.store_id,
        "topic": delivery.topic,
        "delivery_key": delivery.delivery_key,
        "headers": dict(delivery.headers),
        "body": delivery.body,
        "received_at": delivery.received_at,
        "status": _RECEIVED,
        "sequence_key": delivery.sequence_key,
    }


def delivery_from(row: AnyRow) -> Delivery:
    return Delivery(
        id=row.id,
        platform=row.platform,
        store_id=row.store_id,
        topic=row.topic,
        delivery_key=row.delivery_key,
        headers=dict(row.headers or {}),
        body=bytes(row.body),
        received_at=row.received_at,
        sequence_key=row.sequence_key,
        status=DeliveryStatus(row.status),
        error=row.error,
        processed_at=row.processed_at,
        attempts=row.attempts,
    )
