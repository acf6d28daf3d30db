"""How far a buyer got in the checkout, and where they came from: what abandonment diagnostics
count. Pure: the platforms say which fields their payload filled, this names the stage.

Stages, in checkout order: `contact` (an email or phone only), `shipping_address`,
`shipping_method` (a shipping rate chosen), `payment` (a payment was attempted: Shopify's
`gateway`). A shop whose customers keep dropping out at one stage may have a problem there
(a surprising shipping cost, a failing payment provider) that no reminder will fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Stage(StrEnum):
    CONTACT = "contact"
    SHIPPING_ADDRESS = "shipping_address"
    SHIPPING_METHOD = "shipping_method"
    PAYMENT = "payment"


STAGES = tuple(Stage)
UNKNOWN = "unknown"  # a cart whose platform told nothing of its stage


@dataclass(frozen=True, slots=True)
class Trail:
    """The stage a cart reached and where its buyer came from, as far as the payload says."""

    stage: Stage | None = None
    source_name: str | None = None  # "web", "pos", "iphone", an app's name
    landing_site: str | None = None  # the first page of the visit
    referring_site: str | None = None  # the site that sent the buyer


def stage_reached(
    *, contact: bool, shipping_address: bool, shipping_method: bool, payment: bool
) -> Stage | None:
    """The furthest stage the filled-in fields show (None: not even a contact)."""
    if payment:
        return Stage.PAYMENT
    if shipping_method:
        return Stage.SHIPPING_METHOD
    if shipping_address:
        return Stage.SHIPPING_ADDRESS
    return Stage.CONTACT if contact else None


@dataclass(frozen=True, slots=True)
class ShareTest:
    """A stage's share of abandoned carts now against its baseline share."""

    now: int
    now_total: int
    before: int
    before_total: int

    @property
    def share(self) -> float:
        return self.now / self.now_total if self.now_total else 0.0

    @property
    def baseline(self) -> float:
        return self.before / self.before_total if self.before_total else 0.0

    @property
    def z(self) -> float:
        """Two-proportion z statistic (pooled); 0 when either side has no carts."""
        if not self.now_total or not self.before_total:
            return 0.0
        pooled = (self.now + self.before) / (self.now_total + self.before_total)
        spread = pooled * (1 - pooled) * (1 / self.now_total + 1 / self.before_total)
        return (self.share - self.baseline) / math.sqrt(spread) if spread > 0 else 0.0

    def rose(self, threshold: float, min_carts: int) -> bool:
        """The share rose beyond `threshold` (a z score) over at least `min_carts` carts now."""
        return self.now_total >= min_carts and self.z >= threshold


@dataclass(frozen=True, slots=True)
class AbandonedCart:
    """One abandoned cart as diagnostics count it."""

    abandoned_at: datetime
    stage: str | None
    source_name: str | None = None
    landing_site: str | None = None
    referring_site: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A stage whose share of a store's abandoned carts rose beyond its baseline, on `day` (the
    store's local date; one alert per store, stage and day)."""

    store_id: str
    stage: str
    day: str
    raised_at: datetime
    carts: int
    total: int
    share: float
    baseline: float
    z: float
    detail: str
    id: int = 0
