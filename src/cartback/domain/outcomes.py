"""What became of each assigned cart, as the report measures it: its flow, holdout and arms, the
messages that went out (with clicks and opens by people and by machines), and its order.

The store gives these per cart; `measure.py` turns them into groups, intervals and arms. A
cart counts as recovered when it was ordered within the attribution window after it was
abandoned, whatever the messages did: the same rule for treated and held-out carts, so the
difference between them is what the flow adds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from cartback.domain.orders import counts, revenue


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message that went out for the cart."""

    id: str
    channel: str  # what carried it (rcs that reached the phone as sms says sms)
    step_index: int | None
    cost: Decimal
    created_at: datetime
    experiment_id: str | None = None
    arm: str | None = None
    clicks: int = 0  # by people
    bot_clicks: int = 0
    opens: int = 0  # by people
    discount: bool = False  # it carried a discount code


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """The cart's order as the report counts it: `revenue` after refunds (0 for a test,
    cancelled or refunded one), `discount` what our code took off it."""

    placed_at: datetime
    currency: str
    revenue: Decimal
    discount: Decimal = Decimal("0")
    counts: bool = True  # not a test, cancelled, voided or failed order

    @classmethod
    def of(
        cls,
        placed_at: datetime,
        currency: str,
        total: Decimal,
        *,
        status: str,
        test: bool,
        refunded: Decimal,
        discount: Decimal,
    ) -> PlacedOrder:
        """The order as stored: what it earned, and whether it can count at all."""
        earned = revenue(total, status, test, refunded)
        return cls(placed_at, currency, earned, discount, counts(status, test))


@dataclass(frozen=True, slots=True)
class CartOutcome:
    cart_id: int
    flow_id: str
    abandoned_at: datetime
    held_out: bool
    arms: tuple[tuple[str, str], ...] = ()  # (experiment id, arm)
    messages: tuple[SentMessage, ...] = ()
    order: PlacedOrder | None = None

    def arm(self, experiment_id: str) -> str | None:
        return dict(self.arms).get(experiment_id)

    def recovered(self, window: timedelta) -> bool:
        """Ordered (an order that counts) within `window` after abandonment."""
        order = self.order
        return (
            order is not None
            and order.counts
            and self.abandoned_at <= order.placed_at <= self.abandoned_at + window
        )
