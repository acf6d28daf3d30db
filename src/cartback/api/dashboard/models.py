"""What the dashboard's pages show: plain records, filled by `data` and read by the templates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Generic, TypeVar

from cartback.api.contacts import Contact
from cartback.api.dashboard.figures import DayFigures, FunnelStage, Period, SkipRow
from cartback.api.dashboard.measures import Experiment, Lift, StepFigures
from cartback.api.schemas import Report

PAGE_SIZE = 50
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Overview:
    store_id: str | None
    period: Period
    report: Report  # exactly what GET /api/report answers for the same store and since
    report_query: str  # that request, for the owner who wants the JSON
    funnel: list[FunnelStage]
    skips: list[SkipRow]
    days: list[DayFigures]  # empty when the stores' currencies differ
    has_carts: bool  # any cart at all, in any period: else the page says how to start
    lift: Lift | None = None  # the report's lift over the holdout, where a holdout runs


@dataclass(frozen=True, slots=True)
class CartFilters:
    store_id: str | None = None
    status: str | None = None
    q: str | None = None  # part of an email, phone, name or the platform's cart key
    since: datetime | None = None  # last activity at or after
    until: datetime | None = None  # last activity before
    offset: int = 0


@dataclass(frozen=True, slots=True)
class CartRow:
    id: int
    store_id: str
    cart_key: str
    status: str
    currency: str
    total: Decimal
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    created_at: datetime
    updated_at: datetime
    abandoned_at: datetime | None
    purchased_at: datetime | None

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or "No name given"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    offset: int
    has_more: bool

    @property
    def next_offset(self) -> int:
        return self.offset + PAGE_SIZE

    @property
    def previous_offset(self) -> int | None:
        return max(self.offset - PAGE_SIZE, 0) if self.offset > 0 else None


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: str
    store_id: str
    cart_id: int
    flow_id: str | None
    step_index: int | None
    channel: str
    channel_used: str | None  # rcs that reached the phone as sms says sms
    provider: str
    recipient: str
    body: str
    encoding: str | None
    segments: int
    provider_segments: int | None
    cost: Decimal
    currency: str
    status: str
    error_code: str | None
    error: str | None
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    status_at: datetime | None
    clicks: int = 0


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at: datetime
    kind: str  # decision | message | click | order
    headline: str
    detail: str
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class OrderView:
    order_key: str
    total: Decimal
    currency: str
    placed_at: datetime
    paid: bool
    recovered: bool
    attribution: str | None  # click | send
    attributed_message: MessageRow | None


@dataclass(frozen=True, slots=True)
class ItemRow:
    title: str
    quantity: int
    price: Decimal | None  # each
    sku: str | None = None


@dataclass(frozen=True, slots=True)
class CartView:
    cart: CartRow
    items: list[ItemRow]
    sms_consent: bool | None
    email_consent: bool | None
    recovery_url: str | None
    flow_id: str | None
    run_status: str | None
    next_run_at: datetime | None
    messages: list[MessageRow]
    held_out: bool  # the run is in its flow's holdout: it gets no message
    arms: dict[str, str]  # experiment id -> the arm the cart was given
    timeline: list[TimelineItem]
    order: OrderView | None


@dataclass(frozen=True, slots=True)
class ContactView:
    contact: Contact  # what GET /api/contacts/{id} answers
    carts: list[CartRow]


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    platform: str
    store_id: str
    topic: str | None
    delivery_key: str | None
    received_at: datetime
    status: str
    error: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class DeliveryView(DeliveryRow):
    headers: dict[str, str] = field(default_factory=dict)
    body_start: str = ""  # the first few kilobytes, as text
    body_size: int = 0


@dataclass(frozen=True, slots=True)
class StepView:
    title: str  # e.g. "Step 1: send sms (if segment vip)"
    text: str  # what the preview shows under it: the message, its figures, arms, languages
    warnings: list[str] = field(default_factory=list)  # e.g. it needs two SMS segments
    number: int = 0  # counted from 1 over every step, waits too
    figures: StepFigures | None = None  # what its messages did, from the report by step


@dataclass(frozen=True, slots=True)
class FlowView:
    id: str
    store_id: str
    store_name: str
    abandon_after: str
    intro: list[str]  # the sample cart, the flow's condition, holdout and timing test
    steps: list[StepView]
    # From its carts' report over all time:
    currency: str | None = None  # the money's (None: its store's orders are in several)
    lift: Lift | None = None  # where it holds carts out
    experiments: list[Experiment] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DayRange:
    """A from/to pair of days as the owner typed them (for the form to show them again)."""

    since: date | None = None
    until: date | None = None
