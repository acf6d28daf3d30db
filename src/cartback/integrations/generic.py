"""Generic webhooks: any shop, or Zapier / Make, posting cartback's own event format.

The format is `schemas/generic-webhook.v1.json`: `cart.updated`, `order.placed`,
`consent.changed` and `cart.deleted`, each with `event_id`, `type` and `occurred_at`. Bodies are
JSON, or the same fields form-encoded with flat keys (`cart.items[0].title=T-shirt`,
`customer.consent.sms=true`; PHP-style `cart[items][0][title]` works too). Unknown fields are
ignored, so senders may add fields before we read them.

Requests are signed like Stripe's: `X-Cartback-Signature: t=<unix time>,v1=<hex>` where the hex
is HMAC-SHA256 of `"<t>.<raw body>"` under the store's secret. Several `v1` values may be sent
while a secret is rotated; one matching is enough. A timestamp outside the tolerance is refused,
so a captured request cannot be replayed later.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cartback.domain.events import (
    CartDeleted,
    CartUpdated,
    Channel,
    Consent,
    ConsentChanged,
    Customer,
    Event,
    LineItem,
    OrderPlaced,
)
from cartback.domain.money import MoneyError, parse_amount
from cartback.domain.phone import InvalidPhone, normalize_phone
from cartback.integrations._json import PayloadError, load_object
from cartback.integrations.generic_signature import (
    SIGNATURE_HEADER,
    TOLERANCE,
    VerifyResult,
    sign,
    verify,
)

__all__ = [
    "SIGNATURE_HEADER",
    "TOLERANCE",
    "TYPES",
    "PayloadError",
    "VerifyResult",
    "decode",
    "delivery_key",
    "parse",
    "sign",
    "verify",
]

SCHEMA_VERSION = "1"


# --- the payload models -----------------------------------------------------------------------


def _amount(value: object) -> Decimal:
    try:
        return parse_amount(value)
    except MoneyError:
        raise ValueError(f"{value!r} is not an amount") from None


def _ident(value: object) -> str:
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
Ident = Annotated[str, BeforeValidator(_ident)]
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
        phone = _phone_or_none(self.phone, self.country or default_country)
        fields = self.model_dump(exclude={"id", "consent", "tags", "phone"})
        return Customer(
            **fields, external_id=self.id, phone=phone, phone_raw=self.phone, tags=(*self.tags,)
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


class OrderIn(_In):
    id: Ident
    currency: Currency
    total: Amount
    cart_id: Ident | None = None
    paid: bool = False
    discount_codes: Tags = []
    discount_total: Amount = Decimal("0")


class ConsentIn(_In):
    channel: Literal["sms", "email"]
    granted: bool
    source: str | None = None
    wording: str | None = None


class CartRef(_In):
    id: Ident


class _Envelope(_In):
    event_id: Ident
    occurred_at: AwareDatetime

    def to_event(self, store_id: str, country: str | None, at: datetime) -> Event:
        raise NotImplementedError


class CartUpdatedIn(_Envelope):
    cart: CartIn
    customer: CustomerIn = CustomerIn()

    def to_event(self, store_id: str, country: str | None, at: datetime) -> Event:
        cart, flags = self.cart, self.customer.consent
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
        )


class OrderPlacedIn(_Envelope):
    order: OrderIn
    customer: CustomerIn = CustomerIn()

    def to_event(self, store_id: str, country: str | None, at: datetime) -> Event:
        order = self.order
        return OrderPlaced(
            store_id=store_id,
            order_key=order.id,
            occurred_at=at,
            currency=order.currency,
            total=order.total,
            customer=self.customer.to_domain(country),
            cart_key=order.cart_id,
            paid=order.paid,
            discount_codes=tuple(order.discount_codes),
            discount_total=order.discount_total,
        )


class ConsentChangedIn(_Envelope):
    customer: CustomerIn
    consent: ConsentIn

    def to_event(self, store_id: str, country: str | None, at: datetime) -> Event:
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


class CartDeletedIn(_Envelope):
    cart: CartRef

    def to_event(self, store_id: str, country: str | None, at: datetime) -> Event:
        return CartDeleted(store_id=store_id, cart_key=self.cart.id, occurred_at=at)


def _phone_or_none(raw: str | None, country: str | None) -> str | None:
    try:
        return normalize_phone(raw, country)
    except InvalidPhone:
        return None  # the raw number is kept beside it, to be reported as invalid


def _phone_or_fail(raw: str, country: str | None) -> None:
    try:
        normalize_phone(raw, country)
    except InvalidPhone as exc:
        raise PayloadError(f"customer.phone: {exc}") from None


_MODELS: dict[str, type[_Envelope]] = {
    "cart.updated": CartUpdatedIn,
    "order.placed": OrderPlacedIn,
    "consent.changed": ConsentChangedIn,
    "cart.deleted": CartDeletedIn,
}
TYPES: frozenset[str] = frozenset(_MODELS)


# --- decoding JSON and form bodies ------------------------------------------------------------


def decode(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The body as nested data: JSON as is, form fields unflattened from their keys."""
    kind = (content_type or "").lower()
    if "x-www-form-urlencoded" in kind or (not kind and not body.lstrip().startswith(b"{")):
        try:
            return _unflatten(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise PayloadError("body is not UTF-8 form data") from None
    return dict(load_object(body, "").data)


def _unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    tree: dict[str | int, Any] = {}
    for key, value in pairs:
        parts = _key_parts(key)
        node = tree
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise PayloadError(f"{_path(parts[: depth + 1])}: has both a value and fields")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise PayloadError(f"{_path(parts)}: has both a value and fields")
        node[parts[-1]] = value.strip() or None  # an empty form field means "not given"
    result = _listify(tree, ())
    assert isinstance(result, dict)
    return result


def _key_parts(key: str) -> tuple[str | int, ...]:
    if "[]" in key:
        raise PayloadError(f"{key}: number list entries, e.g. cart.items[0].title")
    parts = [part for part in re.split(r"[.\[\]]", key) if part]
    if not parts:
        raise PayloadError(f"{key!r}: not a field name")
    return tuple(int(part) if part.isdigit() else part for part in parts)


def _listify(node: object, at: tuple[str | int, ...]) -> object:
    """Objects whose keys are all indices become lists (0, 1, 2, … with no gaps)."""
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(key, int) for key in node):
        indices = sorted(node)
        if indices != list(range(len(indices))):
            raise PayloadError(f"{_path(at)}: list indices must run 0, 1, 2, … (got {indices})")
        return [_listify(node[index], (*at, index)) for index in indices]
    if any(isinstance(key, int) for key in node):
        raise PayloadError(f"{_path(at)}: mixes list indices and field names")
    return {key: _listify(value, (*at, key)) for key, value in node.items()}


def _path(parts: Sequence[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "body"


# --- parsing ----------------------------------------------------------------------------------


def delivery_key(body: bytes, content_type: str | None = None) -> str:
    """The sender's `event_id`: deliveries that repeat it are duplicates."""
    value = decode(body, content_type).get("event_id")
    try:
        return _ident(value)
    except ValueError as exc:
        raise PayloadError(f"event_id: {'missing' if value is None else exc}") from None


def parse(
    body: bytes,
    content_type: str | None,
    *,
    store_id: str,
    default_country: str | None,
    received_at: datetime,
) -> list[Event]:
    """Validate one delivery and turn it into its domain event.

    Raises PayloadError naming the field by its path, e.g. `cart.items[0].price: 'abc' is not
    an amount`. `received_at` is unused today: every event carries `occurred_at`.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    data = decode(body, content_type)
    kind = data.get("type")
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        known = ", ".join(sorted(TYPES))
        raise PayloadError(f"type: {'missing' if kind is None else repr(kind)} (known: {known})")
    event = _validate(model, data)
    return [event.to_event(store_id, default_country, event.occurred_at.astimezone(UTC))]


def _validate(model: type[_Envelope], data: dict[str, Any]) -> _Envelope:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PayloadError("; ".join(_problem(error) for error in exc.errors())) from None


def _problem(error: Any) -> str:
    path = _path(tuple(error["loc"]))
    if error["type"] == "missing":
        return f"{path}: missing"
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):
        return f"{path}: {cause}"
    return f"{path}: {error['msg']} (got {error.get('input')!r})"
