"""Diagnostics in memory: abandoned carts by their checkout stage, and the alerts raised."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cartback.domain.checkout import AbandonedCart, Alert
from cartback.testing._data import Data
from cartback.testing._tables import utc


class MemoryDiagnostics:
    def __init__(self, data: Data) -> None:
        self.data = data

    def abandoned(self, store_id: str, since: datetime, until: datetime) -> list[AbandonedCart]:
        since, until = utc(since), utc(until)
        chosen = sorted(
            (cart.abandoned_at, cart.id, cart)
            for cart in self.data.carts.values()
            if cart.store_id == store_id
            and cart.abandoned_at is not None
            and since <= cart.abandoned_at <= until
        )
        return [
            AbandonedCart(
                at,
                cart.checkout_stage,
                cart.source_name,
                cart.landing_site,
                cart.referring_site,
            )
            for at, _id, cart in chosen
        ]

    def add_alert(self, alert: Alert) -> bool:
        key = (alert.store_id, alert.stage, alert.day)
        if self.data.alert_by_key.get(key) is not None:
            self.data.journal.check_writable()
            return False
        alert_id = self.data.alert_ids.next()
        stored = replace(alert, id=alert_id, raised_at=utc(alert.raised_at))
        self.data.alerts.insert(alert_id, stored)
        return True

    def alerts(self, store_id: str, since: datetime) -> list[Alert]:
        since = utc(since)
        found = [
            a for a in self.data.alerts.values() if a.store_id == store_id and a.raised_at >= since
        ]
        return sorted(found, key=lambda a: (a.raised_at, a.id), reverse=True)
