"""The diagnostics repository: abandoned carts with their checkout stage, and recorded alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from cartback.domain.checkout import AbandonedCart, Alert


class Diagnostics(Protocol):
    def abandoned(self, store_id: str, since: datetime, until: datetime) -> list[AbandonedCart]:
        """The store's carts abandoned from `since` to `until` (both included), oldest first."""
        ...

    def add_alert(self, alert: Alert) -> bool:
        """Record an alert; False (and nothing written) when the store already has one for
        that stage and day."""
        ...

    def alerts(self, store_id: str, since: datetime) -> list[Alert]:
        """The store's alerts raised since `since`, newest first."""
        ...
