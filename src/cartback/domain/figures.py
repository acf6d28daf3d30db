"""The figures a report is computed from, as the store counts them for the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass
class StoreFigures:
    """What one store's report is computed from (the engine adds ROAS and totals)."""

    store_id: str
    currency: str | None
    carts_abandoned: int = 0
    messages_sent: int = 0
    messages_delivered: int = 0
    sms_segments: int = 0
    spend: Decimal = Decimal("0")
    orders_recovered: int = 0
    recovered_revenue: Decimal = Decimal("0")
    discount_cost: Decimal = Decimal("0")  # discounts our codes gave on recovered orders
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Activity:
    """What the dashboard's funnel and daily chart add to the report, for some stores."""

    carts: int  # created since
    messaged_carts: int  # carts with a message that went out
    clicked_carts: int  # carts with a click on one of their links
    revenue: tuple[tuple[datetime, Decimal], ...] = ()  # recovered orders: placed at, total
    spend: tuple[tuple[datetime, Decimal], ...] = ()  # messages that went out: created at, cost
