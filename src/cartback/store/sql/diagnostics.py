"""Diagnostics in SQL: abandoned carts by their checkout stage, and the alerts raised."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, select

from cartback.domain.checkout import AbandonedCart, Alert
from cartback.store.sql.common import insert_ignoring_duplicates
from cartback.store.tables import alerts, carts


class SqlDiagnostics:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def abandoned(self, store_id: str, since: datetime, until: datetime) -> list[AbandonedCart]:
        query = (
            select(
                carts.c.abandoned_at,
                carts.c.checkout_stage,
                carts.c.source_name,
                carts.c.landing_site,
                carts.c.referring_site,
            )
            .where(
                carts.c.store_id == store_id,
                carts.c.abandoned_at >= since,
                carts.c.abandoned_at <= until,
            )
            .order_by(carts.c.abandoned_at, carts.c.id)
        )
        return [AbandonedCart(*row) for row in self.conn.execute(query)]

    def add_alert(self, alert: Alert) -> bool:
        values = {
            "store_id": alert.store_id,
            "stage": alert.stage,
            "day": alert.day,
            "raised_at": alert.raised_at.astimezone(UTC),
            "carts": alert.carts,
            "total": alert.total,
            "share": alert.share,
            "baseline": alert.baseline,
            "z": alert.z,
            "detail": alert.detail,
        }
        statement = insert_ignoring_duplicates(self.conn, alerts).values(**values)
        return self.conn.execute(statement.returning(alerts.c.id)).first() is not None

    def alerts(self, store_id: str, since: datetime) -> list[Alert]:
        query = (
            select(alerts)
            .where(alerts.c.store_id == store_id, alerts.c.raised_at >= since)
            .order_by(alerts.c.raised_at.desc(), alerts.c.id.desc())
        )
        return [
            Alert(
                store_id=row.store_id,
                stage=row.stage,
                day=row.day,
                raised_at=row.raised_at,
                carts=row.carts,
                total=row.total,
                share=row.share,
                baseline=row.baseline,
                z=row.z,
                detail=row.detail,
                id=row.id,
            )
            for row in self.conn.execute(query)
        ]
