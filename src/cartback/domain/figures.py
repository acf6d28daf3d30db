"""The figures a report is computed from, as the store counts them for the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from cartback.domain.orders import counts, revenue


@dataclass
class OtherCurrency:
    """Recovered orders in a currency that is not the store's: reported apart, never added."""

    orders: int = 0
    revenue: Decimal = Decimal("0")


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
    clicks: int = 0  # on the store's links, by people
    bot_clicks: int = 0  # by link previews, crawlers and scanners: never attributed
    opens: int = 0  # of its emails, by people
    skipped: dict[str, int] = field(default_factory=dict)
    other_currencies: dict[str, OtherCurrency] = field(default_factory=dict)

    def add_recovered_order(
        self,
        currency: str,
        total: Decimal,
        *,
        status: str,
        test: bool,
        refunded: Decimal,
        discount: Decimal,
        times: int = 1,
    ) -> None:
        """Count one order attributed to a message (`times` such orders): a test, cancelled,
        voided, failed or fully refunded order not at all; a partly refunded one at what it
        kept; one in another currency than the store's apart (`discount`: what our code took
        off it, else 0)."""
        if not counts(status, test) or refunded >= total > 0:
            return
        earned = revenue(total, status, test, refunded) * times
        if self.currency is not None and currency != self.currency:
            other = self.other_currencies.setdefault(currency, OtherCurrency())
            other.orders += times
            other.revenue += earned
            return
        self.orders_recovered += times
        self.recovered_revenue += earned
        self.discount_cost += discount * times


@dataclass(frozen=True, slots=True)
class Activity:
    """What the dashboard's funnel and daily chart add to the report, for some stores."""

    carts: int  # created since
    eligible_carts: int  # carts the checks let through (a `send` or `holdout` decision since)
    messaged_carts: int  # carts with a message that went out
    clicked_carts: int  # carts with a click on one of their links
    revenue: tuple[tuple[datetime, Decimal], ...] = ()  # recovered orders: placed at, total
    spend: tuple[tuple[datetime, Decimal], ...] = ()  # messages that went out: created at, cost
