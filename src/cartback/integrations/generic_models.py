"""The generic webhook's events as pydantic models: validation that names each field's path.

One model per event type (`MODELS`), each turning into its domain event. Unknown fields are
ignored, so senders may add fields before cartback reads them.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from cartback.domain.checkout import Stage, Trail
from cartback.domain.emails import normalize_email
from cartback.domain.events import (
    CartDeleted,
    CartUpdated,
    Channel,
    Consent,
    ConsentChanged,
    Customer,
    Event,
    LineItem,
    OrderChanged,
    OrderPlaced,
)
from cartback.domain.money import MoneyError, parse_amount
from cartback.domain.orders import WHOLE_ORDER, OrderStatus, Refund
from cartback.domain.phone import InvalidPhone, choose_phone, normalize_phone
from cartback.integrations._json import PayloadError

__all__ = ["MODELS", "TYPES", "Envelope", "ident"]


def _amount(value: object) -> Decimal:
    try:
        return parse_amount(value)
    except MoneyError:
        raise ValueError(f"{value!r} is not an amount") from None


def ident(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError(f"{value!r} is not an id (write a string, or an integer)")


def _code(what: str, example: str) -> BeforeValidator:
    def check(value: object) -> str:
        if isinstance(value, str) and re.fullmatch(f"[A-Za-z]{{{len(example)}}}", value.strip()):
            return value.strip().upper()
        raise ValueError(f"{value!r} is not a {what} code (e.g. {example})")

    return BeforeValidator(check)


def _tags(value: object) -> object:
    """A list, or one comma-separated string (what a form field holds)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",") if tag.strip()]
    return value


Amount = Annotated[Decimal, BeforeValidator(_amount)]
Ident = Annotated[str, BeforeValidator(ident)]
Currency = Annotated[str, _code("currency", "DKK")]
Country = Annotated[str, _code("country", "DK")]
Tags = Annotated[list[str], BeforeValidator(_tags)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ConsentFlags(_In):
    sms: bool | None = None
    email: bool | None = None


class CustomerIn(_In):
    id: Ident | None = None
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    country: Country | None = None
    consent: ConsentFlags = ConsentFlags()
    tags: Tags = []
    orders_count: int | None = Field(default=None, ge=0)
    total_spent: Amount | None = None

    def to_domain(self, default_country: str | None) -> Customer:
        phone = choose_phone([("customer.phone", self.phone)], self.country or default_country)
        fields = self.model_dump(exclude={"id", "consent", "tags", "phone", "email"})
        return Customer(
            **fields,
            external_id=self.id,
            email=normalize_email(self.email),
            phone=phone.e164,
            phone_raw=phone.raw,
            phone_source=phone.source,
            tags=(*self.tags,),
        )


class ItemIn(_In):
    title: str
    quantity: int = Field(ge=0)
    price: Amount
    sku: str | None = None
    product_id: Ident | None = None
    variant_id: Ident | None = None
    image_url: str | None = None
    tags: Tags = []

    def to_domain(self) -> LineItem:
        return LineItem(**{**self.model_dump(), "tags": tuple(self.tags)})


class CartIn(_In):
    id: Ident
    currency: Currency
    total: Amount
    recovery_url: str | None = None
    token: str | None = None
    items: list[ItemIn] = []
    discount_codes: Tags = []
    store_total: Amount | None = None  # the total in the store's currency, when `currency` isn't
    locale: str | None = None  # the buyer's language
    stage: Stage | None = None  # the furthest checkout stage reached, for diagnostics
    source_name: str | None = None
    landing_site: str | None = None
    referring_site: str | None = None

    def trail(self) -> Trail:
        return Trail(self.stage, self.source_name, self.landing_site, self.referring_site)

    def store_money(self, store_currency: str | None) -> tuple[str | None, Decimal | None]:
        """(store_currency, store_total) for the cart, both None when it is in the store's."""
        if store_currency is None or store_currency == self.currency:
            return None, None
        return store_currency, self.store_total


OrderStatusIn = Literal["open", "cancelled", "voided", "refunded", "failed"]


class OrderIn(_In):
    id: Ident
    currency: Currency
    total: Amount
    cart_id: Ident | None = None
    paid: bool = False
    discount_codes: Tags = []
    discount_total: Amount = Decimal("0")
    status: OrderStatusIn = "open"
    test: bool = False
    refunded: Amount | None = Field(default=None, ge=0)  # all refunds so far, in `currency`
    store_total: Amount | None = None  # the total in the store's currency, when `currency` isn't

    def money(self, store_currency: str | None) -> tuple[str, Decimal]:
        """The total in the store's currency where the sender gives it, else as sent."""
        if store_currency not in (None, self.currency) and self.store_total is not None:
            return store_currency, self.store_total
        return self.currency, self.total


class OrderChangeIn(_In):
    id: Ident
    status: OrderStatusIn | None = None
    test: bool | None = None
    refunded: Amount | None = Field(default=None, ge=0)  # all refunds so far
    currency: Currency | None = None  # of `refunded`; default: the order's


class RefundIn(_In):
    id: Ident
    amount: Amount = Field(ge=0)
    currency: Currency | None = None  # default: the order's


class ConsentIn(_In):
    channel: Literal["sms", "email"]
    granted: bool
    source: str | None = None
    wording: str | None = None


class CartRef(_In):
    id: Ident


class OrderRef(_In):
    id: Ident


class Envelope(_In):
    event_id: Ident
    occurred_at: AwareDatetime

    def to_event(
        self, store_id: str, country: str | None, at: datetime, currency: str | None = None
    ) -> Event:
        """`currency`: the store's configured currency, where it has one."""
        raise NotImplementedError


class CartUpdatedIn(Envelope):
    cart: CartIn
    customer: CustomerIn = CustomerIn()

    def to_event(
        self, store_id: str, country: str | None, at: datetime, currency: str | None = None
    ) -> Event:
        cart, flags = self.cart, self.customer.consent
        store_currency, store_total = cart.store_money(currency)
        return CartUpdated(
            store_id=store_id,
            cart_key=cart.id,
            occurred_at=at,
            currency=cart.currency,
            total=cart.total,
            customer=self.customer.to_domain(country),
            consent=Consent(sms=flags.sms, email=flags.email),
            recovery_url=cart.recovery_url,
            cart_token=cart.token,
            items=tuple(item.to_domain() for item in cart.items),
            discount_codes=tuple(cart.discount_codes),
            store_currency=store_currency,
            store_total=store_total,
            locale=cart.locale,
            trail=cart.trail(),
        )


class OrderPlacedIn(Envelope):
    order: OrderIn
    customer: CustomerIn = CustomerIn()

    def to_event(
        self, store_id: str, country: str | None, at: datetime, currency: str | None = None
    ) -> Event:
        order = self.order
        code, total = order.money(currency)
        refunded = order.refunded
        return OrderPlaced(
            store_id=store_id,
            order_key=order.id,
            occurred_at=at,
            currency=code,
            total=total,
            customer=self.customer.to_domain(country),
            cart_key=order.cart_id,
            paid=order.paid,
            discount_codes=tuple(order.discount_codes),
            discount_total=order.discount_total if code == order.currency else Decimal("0"),
            status=OrderStatus(order.status),
            test=order.test,
            refunds=(Refund(WHOLE_ORDER, refunded, order.currency),) if refunded else (),
        )


class OrderUpdatedIn(Envelope):
    """`order.updated`: a known order's new status, test flag, or all it has refunded so far."""

    order: OrderChangeIn

    def to_event(
        self, store_id: str, country: str | None, at: datetime, currency: str | None = None
    ) -> Event:
        order = self.order
        refunds = (
            (Refund(WHOLE_ORDER, order.refunded, order.currency),)
            if order.refunded is not None
            else ()
        )
        return OrderChanged(
            store_id=store_id,
            order_key=order.id,
            occurred_at=at,
            source="generic:order.updated",
            status=OrderStatus(order.status) if order.status is not None else None,
            test=order.test,
            refunds=refunds,
        )


class OrderRefundedIn(Envelope):
    """`order.refunded`: one refund of a known order, kept once by its id."""

    order: OrderRef
    refund: RefundIn

    def to_event(
        self, store_id: str, country: str | None, at: datetime, currency: str | None = None
    ) -> Event:
        refund = self.refund
        return OrderChanged(
            store_id=store_id,
            order_key=self.order.id,
            occurred_at=at,
            source="generic:order.refunded",
            refunds=(Refund(refund.id, refund.amount, refund.currency),),
        )


class ConsentChangedIn(Envelope):
    customer: CustomerIn
    consent: ConsentIn

    def to_event(
        self, store_id: str, country: str | None, at: datetime, currency: str | None = None
    ) -> Event:
        who, consent = self.customer.to_domain(country), self.consent
        if not (who.phone or who.email or who.external_id):
            if who.phone_raw is not None:  # the only way to reach them is a broken number
                _phone_or_fail(who.phone_raw, self.customer.country or country)
            raise PayloadError("customer: give an email, phone or id the consent belongs to")
        return ConsentChanged(
            store_id=store_id,
            channel=Channel(consent.channel),
            granted=consent.granted,
            occurred_at=at,
            source=f"generic:{consent.source}" if consent.source else "generic",
            phone=who.phone,
            email=who.email,
            customer_external_id=who.external_id,
            detail=consent.wording,
        )


class CartDeletedIn(Envelope):
    cart: CartRef

    def to_event(
        self, store_id: str, country: str | None, at: datetime, currency: str | None = None
    ) -> Event:
        return CartDeleted(store_id=store_id, cart_key=self.cart.id, occurred_at=at)


def _phone_or_fail(raw: str, country: str | None) -> None:
    try:
        normalize_phone(raw, country)
    except InvalidPhone as exc:
        raise PayloadError(f"customer.phone: {exc}") from None


MODELS: dict[str, type[Envelope]] = {
    "cart.updated": CartUpdatedIn,
    "order.placed": OrderPlacedIn,
    "consent.changed": ConsentChangedIn,
    "cart.deleted": CartDeletedIn,
    "order.updated": OrderUpdatedIn,
    "order.refunded": OrderRefundedIn,
}
TYPES: frozenset[str] = frozenset(MODELS)
