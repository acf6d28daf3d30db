"""Raw webhook deliveries: stored first, processed after, kept for replay when they fail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from cartback.store.tables import deliveries
from cartback.store.types import AnyRow

PROCESSED = "processed"
FAILED = "failed"
RECEIVED = "received"


@dataclass(frozen=True, slots=True)
class NewDelivery:
    platform: str
    store_id: str
    topic: str | None
    delivery_key: str | None
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime


def record(conn: Connection, delivery: NewDelivery) -> tuple[int, bool]:
    """Store a delivery; return its id and whether it was already processed (a duplicate)."""
    existing = _find(conn, delivery)
    if existing is not None:
        return existing.id, existing.status == PROCESSED
    try:
        with conn.begin_nested():
            row_id = conn.execute(
                insert(deliveries)
                .values(
                    platform=delivery.platform,
                    store_id=delivery.store_id,
                    topic=delivery.topic,
                    delivery_key=delivery.delivery_key,
                    headers=dict(delivery.headers),
                    body=delivery.body,
                    received_at=delivery.received_at,
                    status=RECEIVED,
                )
                .returning(deliveries.c.id)
            ).scalar_one()
    except IntegrityError:
        # The same delivery arrived twice at once; the other request stored it.
        existing = _find(conn, delivery)
        assert existing is not None
        return existing.id, True
    return int(row_id), False


def _find(conn: Connection, delivery: NewDelivery) -> AnyRow | None:
    if delivery.delivery_key is None:
        return None
    return conn.execute(
        select(deliveries.c.id, deliveries.c.status).where(
            deliveries.c.platform == delivery.platform,
            deliveries.c.store_id == delivery.store_id,
            deliveries.c.delivery_key == delivery.delivery_key,
        )
    ).first()


def mark(conn: Connection, delivery_id: int, status: str, at: datetime, error: str | None) -> None:
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(status=status, error=error, processed_at=at, attempts=deliveries.c.attempts + 1)
    )


def get(conn: Connection, delivery_id: int) -> AnyRow | None:
    return conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()


def listing(
    conn: Connection, *, status: str | None = None, store_id: str | None = None, limit: int = 100
) -> Sequence[AnyRow]:
    query = select(
        deliveries.c.id,
        deliveries.c.platform,
        deliveries.c.store_id,
        deliveries.c.topic,
        deliveries.c.delivery_key,
        deliveries.c.received_at,
        deliveries.c.status,
        deliveries.c.error,
        deliveries.c.attempts,
    )
    if status is not None:
        query = query.where(deliveries.c.status == status)
    if store_id is not None:
        query = query.where(deliveries.c.store_id == store_id)
    return conn.execute(query.order_by(deliveries.c.id.desc()).limit(limit)).all()
