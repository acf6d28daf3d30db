"""Raw webhook deliveries: stored first and deduplicated, applied after, kept for replay."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from cartback.domain.records import Delivery, DeliveryStatus, NewDelivery
from cartback.store.tables import deliveries
from cartback.store.types import AnyRow

_PROCESSED = str(DeliveryStatus.PROCESSED)


class SqlDeliveries:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record(self, delivery: NewDelivery) -> tuple[int, bool]:
        existing = self._find(delivery)
        if existing is not None:
            return existing.id, existing.status == _PROCESSED
        try:
            with self.conn.begin_nested():
                row_id = self.conn.execute(
                    insert(deliveries)
                    .values(
                        platform=delivery.platform,
                        store_id=delivery.store_id,
                        topic=delivery.topic,
                        delivery_key=delivery.delivery_key,
                        headers=dict(delivery.headers),
                        body=delivery.body,
                        received_at=delivery.received_at,
                        status=str(DeliveryStatus.RECEIVED),
                    )
                    .returning(deliveries.c.id)
                ).scalar_one()
        except IntegrityError:
            # The same delivery arrived twice at once; the other request stored it.
            existing = self._find(delivery)
            if existing is None:
                raise
            return existing.id, True
        return int(row_id), False

    def _find(self, delivery: NewDelivery) -> AnyRow | None:
        if delivery.delivery_key is None:
            return None
        return self.conn.execute(
            select(deliveries.c.id, deliveries.c.status).where(
                deliveries.c.platform == delivery.platform,
                deliveries.c.store_id == delivery.store_id,
                deliveries.c.delivery_key == delivery.delivery_key,
            )
        ).first()

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
                attempts=deliveries.c.attempts + 1,
            )
        )

    def get(self, delivery_id: int) -> Delivery | None:
        row = self.conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
        return delivery_from(row) if row is not None else None

    def listing(
        self, *, status: DeliveryStatus | None, store_id: str | None, limit: int
    ) -> list[Delivery]:
        query = select(deliveries)
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
        status=DeliveryStatus(row.status),
        error=row.error,
        processed_at=row.processed_at,
        attempts=row.attempts,
    )
