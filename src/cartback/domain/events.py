"""Domain events: what every shop integration turns its payloads into.

Integrations produce these; the ingest service applies them to the store. Nothing here does I/O.
Identifiers from platforms are kept as strings so that 64-bit ids never pass through a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from cartback.domain.checkout import Trail
from cartback.domain.orders import OrderStatus, Refund


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    RCS = "rcs"


@dataclass(frozen=True, slots=True)
class LineItem:
    title: str
    quantity: int
    price: Decimal
    sku: str | None = None
    product_id: str | None = None
    variant_id: str | None = None
    image_url: str | None = None
    tags: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Customer:
    """Who the cart belongs to, as the platform described them.

    `phone` is E.164 when it could be normalised; `phone_raw` keeps what the platform sent, so that
    an invalid number can be reported as such instead of being mistaken for a missing one.
    `phone_source` names the field the number came from (`billing_address.phone`), so that a
    skip can say where to fix it.
    """

    external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    phone_raw: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2
    orders_count: int | None = None
    total_spent: Decimal | None = None
    tags: tuple[str, ...] = ()
    phone_source: str | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    """Marketing consent per channel; None means the payload said nothing about it."""

    sms: bool | None = None
    email: bool | None = None


@dataclass(frozen=True, slots=True)
class CartUpdated:
    """A cart as the buyer sees it: `total` in `currency` (a multi-currency shop's presentment
    currency). When that is not the store's currency, `store_currency` names the store's and
    `store_total` is the basket in it where the payload gives it (None: it does not)."""

    store_id: str
    cart_key: str  # the platform's id for the cart (Shopify: checkout token)
    occurred_at: datetime
    currency: str
    total: Decimal
    customer: Customer
    consent: Consent
    recovery_url: str | None = None
    cart_token: str | None = None
    items: tuple[LineItem, ...] = ()
    discount_codes: tuple[str, ...] = ()
    locale: str | None = None  # the buyer's language as the platform gives it ("da-DK")
    enrichment: str | None = None  # what a shop's admin API added, in words (for the timeline)
    store_currency: str | None = None
    store_total: Decimal | None = None
    trail: Trail = field(default_factory=Trail)  # the checkout stage reached, the visit's source


@dataclass(frozen=True, slots=True)
class CartDeleted:
    """A cart the shop removed. Shopify's 2026-04 delete names only the `cart_token`."""

    store_id: str
    cart_key: str | None
    occurred_at: datetime
    cart_token: str | None = None


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    """An order with everything the payload says of it: `total` in the store's money where the
    payload gives it (`currency` names it either way), its status, and the refunds so far.
    A second delivery of a known order changes it (see `OrderChanged`)."""

    store_id: str
    order_key: str
    occurred_at: datetime
    currency: str
    total: Decimal
    customer: Customer
    cart_key: str | None = None  # checkout token where the platform gives one
    cart_token: str | None = None
    paid: bool = False
    discount_codes: tuple[str, ...] = ()
    discount_total: Decimal = field(default=Decimal("0"))
    status: OrderStatus = OrderStatus.OPEN
    test: bool = False
    refunds: tuple[Refund, ...] = ()
    reason: str | None = None  # why the status is what it is, in the shop's words


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """A known order changed: a new status (None: unchanged), the test flag (None: unchanged),
    refunds (each once by its key). `source` names what told us, for the cart's timeline."""

    store_id: str
    order_key: str
    occurred_at: datetime
    source: str
    status: OrderStatus | None = None
    test: bool | None = None
    refunds: tuple[Refund, ...] = ()
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ConsentChanged:
    store_id: str
    channel: Channel
    granted: bool
    occurred_at: datetime
    source: str  # e.g. "shopify:customers_marketing_consent/update"
    phone: str | None = None
    email: str | None = None
    customer_external_id: str | None = None
    detail: str | None = None  # the field or wording the consent came from


@dataclass(frozen=True, slots=True)
class DataSubject:
    """The person a privacy request is about, as the shop names them.

    `phone` is E.164 when it could be normalised; `phone_raw` keeps what the shop sent, so that a
    number written locally can still be found. `order_keys` are the shop's order ids.
    """

    customer_external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    phone_raw: str | None = None
    order_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DataRequested:
    """The shop asks for everything stored about one person (Shopify: `customers/data_request`)."""

    store_id: str
    occurred_at: datetime
    subject: DataSubject
    request_id: str | None = None  # the shop's id for this request, for its audit


@dataclass(frozen=True, slots=True)
class CustomerRedactRequested:
    """The shop asks to erase one person (Shopify: `customers/redact`)."""

    store_id: str
    occurred_at: datetime
    subject: DataSubject


@dataclass(frozen=True, slots=True)
class ShopRedactRequested:
    """The shop asks to erase everything about the store (Shopify: `shop/redact`, 48 hours after
    the app was uninstalled)."""

    store_id: str
    occurred_at: datetime
    shop_domain: str | None = None


Event = (
    CartUpdated
    | CartDeleted
    | OrderPlaced
    | OrderChanged
    | ConsentChanged
    | DataRequested
    | CustomerRedactRequested
    | ShopRedactRequested
)
