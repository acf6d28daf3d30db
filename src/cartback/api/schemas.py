"""Response shapes of the REST API (also what /docs shows)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel


class CartSummary(BaseModel):
    id: int
    store_id: str
    cart_key: str
    status: str
    currency: str
    total: Decimal
    email: str | None
    phone: str | None
    first_name: str | None
    sms_consent: bool | None
    email_consent: bool | None
    recovery_url: str | None
    update_count: int
    created_at: datetime
    updated_at: datetime
    abandoned_at: datetime | None
    purchased_at: datetime | None


class MessageOut(BaseModel):
    id: str
    store_id: str
    cart_id: int
    flow_id: str | None
    step_index: int | None
    channel: str
    provider: str
    recipient: str
    sender: str | None
    body: str
    encoding: str | None
    segments: int
    cost: Decimal
    currency: str
    link_code: str | None
    status: str
    error: str | None
    created_at: datetime
    sent_at: datetime | None


class TimelineEntry(BaseModel):
    at: datetime
    kind: str  # decision | message | click | order
    action: str | None = None
    reason: str | None = None
    detail: str
    flow_id: str | None = None
    step_index: int | None = None
    message_id: str | None = None
    until: datetime | None = None


class RunOut(BaseModel):
    flow_id: str
    step_index: int
    status: str
    next_run_at: datetime | None
    ended_reason: str | None
    held_out: bool | None = None  # null until the cart is assigned in its flow
    arms: dict[str, str] = {}  # experiment id: arm


class OrderOut(BaseModel):
    order_key: str
    total: Decimal
    currency: str
    placed_at: datetime
    paid: bool
    recovered: bool
    attribution: str | None
    attributed_message_id: str | None
    status: str = "open"  # open | cancelled | voided | refunded | failed
    test: bool = False
    refunded: Decimal = Decimal("0")
    revenue: Decimal = Decimal("0")  # what it counts as: nothing when test or not open


class CartDetail(CartSummary):
    items: list[dict[str, Any]]
    run: RunOut | None
    order: OrderOut | None
    messages: list[MessageOut]
    timeline: list[TimelineEntry]


class OtherCurrencyOut(BaseModel):
    """Recovered orders in a currency that is neither the store's nor convertible from the
    payload: reported apart, never added to the store's revenue."""

    orders: int
    revenue: Decimal


class GroupOut(BaseModel):
    """Abandoned carts of a group, those ordered within the attribution window, the share."""

    carts: int
    recovered: int
    conversion: float


class CartsNeededOut(BaseModel):
    treated: int
    holdout: int
    per_group: int


class LiftOut(BaseModel):
    """Treated conversion minus held-out conversion, with a 95% (Newcombe) interval."""

    absolute: float
    ci_low: float
    ci_high: float
    incremental_orders: float
    incremental_revenue: Decimal
    incremental_roas: Decimal | None
    verdict: str
    carts_needed: CartsNeededOut | None  # while the interval spans 0


class ArmOut(BaseModel):
    name: str
    carts: int
    messages: int
    clicks: int
    recovered: int
    conversion: float
    ci_low: float
    ci_high: float
    revenue: Decimal  # what the orders earned, net of the discounts our codes gave
    spend: Decimal
    discount_cost: Decimal
    revenue_per_cart: Decimal


class CalledOut(BaseModel):
    """An `auto_winner` experiment's called winner: new carts go to it since `called_at`."""

    arm: str
    called_at: datetime
    why: str


class ExperimentOut(BaseModel):
    id: str
    arms: list[ArmOut]
    probability_best: dict[str, float]
    winner: str | None
    why: str
    auto_winner: CalledOut | None = None


class RowOut(BaseModel):
    """One row of `?by=`: the figures of its treated carts (by arm: also a holdout row)."""

    key: str
    carts: int
    messages: int
    clicks: int
    bot_clicks: int
    opens: int
    recovered: int
    conversion: float
    revenue: Decimal
    spend: Decimal
    discount_cost: Decimal
    revenue_per_cart: Decimal
    roas: Decimal | None
    lift: LiftOut | None = None


class StoreReport(BaseModel):
    store: str
    currency: str | None
    carts_abandoned: int
    messages_sent: int
    messages_delivered: int
    sms_segments: int
    spend: Decimal
    orders_recovered: int
    recovered_revenue: Decimal
    discount_cost: Decimal
    roas: Decimal | None
    skipped: dict[str, int]
    other_currencies: dict[str, OtherCurrencyOut] = {}
    clicks: int = 0  # by people
    bot_clicks: int = 0  # link previews, crawlers, scanners: never attributed
    opens: int = 0
    holdout: GroupOut | None = None
    treated: GroupOut | None = None
    lift: LiftOut | None = None
    experiments: list[ExperimentOut] = []
    rows: list[RowOut] | None = None  # with ?by=


class Report(StoreReport):
    since: datetime | None
    stores: list[StoreReport]


class DeliveryOut(BaseModel):
    id: int
    platform: str
    store_id: str
    topic: str | None
    delivery_key: str | None
    received_at: datetime
    status: str
    error: str | None
    attempts: int


class Health(BaseModel):
    status: str
    database: str
    version: str


class ErrorDetail(BaseModel):
    code: str  # stable snake_case, e.g. bad_signature, unknown_store, not_found
    message: str


class ErrorOut(BaseModel):
    """What every 4xx/5xx answer holds (some add keys beside `error`, e.g. `delivery_id`)."""

    error: ErrorDetail
