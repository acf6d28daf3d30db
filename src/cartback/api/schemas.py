"""Response shapes of the REST API (also what /docs shows)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

# The measuring half of the report keeps the engine's shapes (dataclasses pydantic reads).
from cartback.engine.measuring import ExperimentOut, GroupOut, LiftOut, RowOut


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
    kind: str  # decision | message | click | open | order
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


class StageOut(BaseModel):
    stage: str  # contact | shipping_address | shipping_method | payment | unknown
    carts: int
    share: float
    baseline_carts: int
    baseline_share: float
    z: float
    alert: bool


class AlertOut(BaseModel):
    stage: str
    day: str
    raised_at: datetime
    carts: int
    total: int
    share: float
    baseline: float
    z: float
    detail: str


class DiagnosticsOut(BaseModel):
    store: str
    since: datetime
    until: datetime
    carts: int
    baseline_carts: int
    stages: list[StageOut]
    sources: dict[str, dict[str, int]]
    alerts: list[AlertOut]
