"""What the store keeps, as the engine sees it: typed records, no rows.

The store (SQL or in memory) returns these; the engine decides on them and hands back new ones.
Nothing here does I/O. Times are aware UTC; money is a Decimal with its currency beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from cartback.domain.engagement import Click, Link, MessageTouch, Open
from cartback.domain.events import LineItem
from cartback.domain.experiments import Assignment
from cartback.domain.orders import OrderStatus, refunded_total
from cartback.domain.statuses import (
    LIVE_CART,
    MESSAGE_OUT,
    NOT_SENT,
    WAITING_FOR_ABANDONMENT,
    CartStatus,
    DecisionAction,
    DeliveryStatus,
    MessageStatus,
    RunStatus,
)

__all__ = [  # states live in statuses.py, clicks and opens in engagement.py; one import here
    "LIVE_CART",
    "MESSAGE_OUT",
    "NOT_SENT",
    "WAITING_FOR_ABANDONMENT",
    "CartStatus",
    "Click",
    "DecisionAction",
    "DeliveryStatus",
    "Link",
    "MessageStatus",
    "MessageTouch",
    "Open",
    "RunStatus",
]


# carts and orders --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CartContents:
    """What a platform told us about a cart: written on every accepted update."""

    store_id: str
    cart_key: str
    currency: str
    total: Decimal
    occurred_at: datetime  # the platform's time of this update
    last_activity_at: datetime  # occurred_at, never later than when we received it
    cart_token: str | None = None
    customer_external_id: str | None = None
    email: str | None = None  # lower-cased
    phone: str | None = None  # E.164
    phone_raw: str | None = None  # what was sent, when it is not a usable number
    first_name: str | None = None
    last_name: str | None = None
    country: str | None = None
    items: tuple[LineItem, ...] = ()
    discount_codes: tuple[str, ...] = ()
    recovery_url: str | None = None
    sms_consent: bool | None = None  # the checkout's box: None when the payload said nothing
    email_consent: bool | None = None
    customer_orders_count: int | None = None  # the platform's own figures, where it sends them
    customer_total_spent: Decimal | None = None
    customer_tags: tuple[str, ...] = ()
    locale: str | None = None  # the buyer's language ("da-DK"), where the platform gives it
    phone_source: str | None = None  # the field the phone (or phone_raw) came from
    store_currency: str | None = None  # set when `currency` (the buyer's) is not the store's
    store_total: Decimal | None = None  # the basket in `store_currency`, where the shop said
    checkout_stage: str | None = None  # the furthest checkout stage reached (domain.checkout)
    source_name: str | None = None  # where the buyer came from, where the payload tells
    landing_site: str | None = None
    referring_site: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Cart(CartContents):
    """A stored cart: its latest contents, and where it is in its life."""

    id: int
    status: CartStatus
    update_count: int
    created_at: datetime
    updated_at: datetime
    abandoned_at: datetime | None = None
    purchased_at: datetime | None = None
    deleted_at: datetime | None = None

    @property
    def live(self) -> bool:
        return self.status in LIVE_CART


def item_json(item: LineItem) -> dict[str, Any]:
    """A line item as JSON keeps it (and templates and the API show it): price as text."""
    return {
        "title": item.title,
        "quantity": item.quantity,
        "price": str(item.price),
        "sku": item.sku,
        "product_id": item.product_id,
        "variant_id": item.variant_id,
        "image_url": item.image_url,
        "tags": list(item.tags),
        "collections": list(item.collections),
    }


def item_from_json(data: Mapping[str, Any]) -> LineItem:
    return LineItem(
        title=str(data.get("title") or ""),
        quantity=int(data.get("quantity") or 1),
        price=Decimal(str(data.get("price") or "0")),
        sku=data.get("sku"),
        product_id=data.get("product_id"),
        variant_id=data.get("variant_id"),
        image_url=data.get("image_url"),
        tags=tuple(str(tag) for tag in data.get("tags") or ()),
        collections=tuple(str(name) for name in data.get("collections") or ()),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class NewOrder:
    store_id: str
    order_key: str
    currency: str
    total: Decimal
    placed_at: datetime
    received_at: datetime
    cart_id: int | None = None
    checkout_token: str | None = None
    cart_token: str | None = None
    customer_external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    discount_total: Decimal = Decimal("0")
    paid: bool = False
    recovered: bool = False  # attributed to a message (whether it is revenue: `status`, `test`)
    attributed_message_id: str | None = None
    attribution: str | None = None  # click | send
    status: OrderStatus = OrderStatus.OPEN
    test: bool = False
    refunds: Mapping[str, Decimal] = field(default_factory=dict)  # by the platform's refund id

    @property
    def refunded(self) -> Decimal:
        return refunded_total(self.refunds)


@dataclass(frozen=True, slots=True, kw_only=True)
class Order(NewOrder):
    id: int


@dataclass(frozen=True, slots=True)
class Purchase:
    """One order of a person that counts (no test, cancelled or refunded one), as segments count
    them: `total` is what it earned after refunds, in `currency` (None: unknown)."""

    total: Decimal
    placed_at: datetime
    currency: str | None = None


# flow runs and their decisions ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    cart_id: int
    flow_id: str
    step_index: int
    status: RunStatus
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime
    claim_token: str | None = None
    claimed_at: datetime | None = None
    ended_reason: str | None = None
    # Fixed when the cart is first assigned in its flow (see `Flow.assign`); None before.
    held_out: bool | None = None
    arms: tuple[tuple[str, str], ...] = ()  # (experiment id, arm)

    @property
    def assignment(self) -> Assignment | None:
        return None if self.held_out is None else Assignment(self.held_out, self.arms)


@dataclass(frozen=True, slots=True)
class Claim:
    """A run this worker holds until its lease ends; every move of the run names the token."""

    id: int
    cart_id: int
    flow_id: str
    step_index: int
    claim_token: str
    due_at: datetime | None = None  # when the step was due, for the due→sent lag
    # The cart's holdout and arms in its flow as the run had them when claimed (None: not
    # assigned yet); the scheduler writes a new one with the run's move into its flow.
    assigned: Assignment | None = None


@dataclass(frozen=True, slots=True)
class DecisionEntry:
    """One line of a cart's timeline: what was decided, why, in words."""

    cart_id: int
    at: datetime
    action: str  # a DecisionAction
    reason: str
    detail: str
    run_id: int | None = None
    flow_id: str | None = None
    step_index: int | None = None
    until: datetime | None = None
    id: int = 0  # given by the store


# messages, links, clicks ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    id: str  # ours; the gateway's idempotency key
    store_id: str
    cart_id: int
    channel: str  # sms | rcs | email
    provider: str
    recipient: str
    body: str
    cost: Decimal
    currency: str
    status: MessageStatus
    created_at: datetime
    run_id: int | None = None
    flow_id: str | None = None
    step_index: int | None = None
    sender: str | None = None
    encoding: str | None = None
    segments: int = 0
    link_code: str | None = None
    discount_code: str | None = None
    discount_pending: bool = False  # a Shopify code chosen, not yet known to be created
    provider_message_id: str | None = None
    provider_segments: int | None = None
    channel_used: str | None = None
    attempts: int = 0
    error_code: str | None = None
    error: str | None = None
    sent_at: datetime | None = None
    status_at: datetime | None = None
    experiment_id: str | None = None  # the step's A/B test, and the variant this message is
    arm: str | None = None


@dataclass(frozen=True, slots=True)
class SendAttempt:
    message_id: str
    number: int
    started_at: datetime
    duration_ms: int
    outcome: str  # sent | failed | retry | skipped
    http_status: int | None = None
    error: str | None = None


# consent and suppression ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    store_id: str  # "*" for entries no single store owns (a STOP reply reaches every store)
    channel: str  # sms | email (rcs shares sms)
    address: str  # E.164 or a lower-cased email
    granted: bool
    source: str
    occurred_at: datetime
    recorded_at: datetime
    customer_external_id: str | None = None
    detail: str | None = None
    id: int = 0


@dataclass(frozen=True, slots=True)
class Suppression:
    channel: str
    address: str
    reason: str
    source: str
    created_at: datetime


STOP_REPLY = "stop-reply"  # the suppression reason of a STOP reply: it ends every channel


@dataclass(frozen=True, slots=True)
class Reply:
    """A message a recipient sent us, kept once per gateway id."""

    provider: str
    provider_id: str
    sender: str
    text: str
    received_at: datetime
    recipient: str | None = None


@dataclass(frozen=True, slots=True)
class Touch:
    """A promotional message another system sent, so the cooldown counts it."""

    address: str  # E.164 for sms, lower-cased email for email
    channel: str  # sms | email
    sent_at: datetime
    source: str

    def __post_init__(self) -> None:
        if self.channel not in ("sms", "email"):
            raise ValueError(f"a touch's channel is sms or email, not {self.channel!r}")
        if self.sent_at.tzinfo is None:
            raise ValueError("a touch's sent_at must be an aware datetime")
        if not self.address or not self.source:
            raise ValueError("a touch needs an address and a source")


# deliveries and cursors ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NewDelivery:
    platform: str
    store_id: str
    topic: str | None
    delivery_key: str | None
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime
    sequence_key: str | None = None  # deliveries sharing it are applied in arrival order


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery(NewDelivery):
    id: int
    status: DeliveryStatus
    error: str | None = None
    processed_at: datetime | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far a poller got (e.g. `magento:<store>:carts`), and its backoff after failures."""

    name: str
    value: str
    updated_at: datetime
    failures: int = 0
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CodeImport:
    added: int
    duplicates: int  # already in the pool, or repeated in the same import


@dataclass(frozen=True, slots=True)
class CartSearch:
    """A search over carts: by store, status, update time, and a text that is the cart key
    or a part of the email, phone or name (case-insensitive)."""

    store_ids: tuple[str, ...]
    status: str | None = None
    text: str | None = None
    since: datetime | None = None  # updated at or after
    until: datetime | None = None  # updated before
