"""Shopify webhooks: verify the signature, turn the JSON body into domain events.

Payload shapes differ by API version. Since 2025-01 the checkout's nested `customer` carries no
consent, tags or order count, and since 2026-04 a checkout has no `id` (its `token` is the key).
Older versions keep consent on `customer.sms_marketing_consent`. Both are read here: a ticked box
on the checkout is a grant (`CartUpdated.consent`), an unticked one says nothing, and the
customer's own consent record becomes `ConsentChanged` events (see `shopify_consent`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from cartback.domain.events import (
    CartDeleted,
    CartUpdated,
    Consent,
    ConsentChanged,
    Customer,
    Event,
    LineItem,
    OrderPlaced,
)
from cartback.integrations import shopify_consent, shopify_privacy
from cartback.integrations._json import JsonObject, PayloadError, load_object
from cartback.integrations._signing import sign_b64, verify_b64

__all__ = [
    "API_VERSION_HEADER",
    "EVENT_ID_HEADER",
    "HMAC_HEADER",
    "SHOP_DOMAIN_HEADER",
    "TOPICS",
    "TOPIC_HEADER",
    "TRIGGERED_AT_HEADER",
    "WEBHOOK_ID_HEADER",
    "PayloadError",
    "parse",
    "sign",
    "verify",
]

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
SHOP_DOMAIN_HEADER = "X-Shopify-Shop-Domain"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
EVENT_ID_HEADER = "X-Shopify-Event-Id"
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"
API_VERSION_HEADER = "X-Shopify-API-Version"

CHECKOUT_CREATE = "checkouts/create"
CHECKOUT_UPDATE = "checkouts/update"
CHECKOUT_DELETE = "checkouts/delete"
ORDER_CREATE = "orders/create"
ORDER_PAID = "orders/paid"
SMS_CONSENT_UPDATE = "customers_marketing_consent/update"
EMAIL_CONSENT_UPDATE = "customers_email_marketing_consent/update"
DATA_REQUEST = "customers/data_request"
CUSTOMER_REDACT = "customers/redact"
SHOP_REDACT = "shop/redact"

PAID_STATUSES = frozenset({"paid", "partially_paid"})


# --- signatures -------------------------------------------------------------------------------


def sign(body: bytes, secret: str) -> str:
    """The `X-Shopify-Hmac-Sha256` value for `body`: base64 of its HMAC-SHA256 under `secret`."""
    return sign_b64(body, secret)


def verify(body: bytes, signature: str | None, secret: str) -> bool:
    """Whether `signature` is Shopify's signature of the raw `body`. Never raises."""
    return verify_b64(body, signature, secret)


# --- parsing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    topic: str
    store_id: str
    default_country: str | None
    received_at: datetime


_Build = Callable[[JsonObject, _Context], list[Event]]


def parse(
    topic: str,
    body: bytes,
    *,
    store_id: str,
    default_country: str | None,
    received_at: datetime,
) -> list[Event]:
    """Turn one webhook delivery into domain events; a topic we don't handle gives none, and so
    does a consent update that says nothing (an undated `not_subscribed`).

    `received_at` (aware) stands in for the time of any event whose payload carries none.
    Raises PayloadError naming the JSON path when the body can't be read.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    handler = _HANDLERS.get(topic)
    if handler is None:
        return []
    root, build = handler
    context = _Context(topic, store_id, default_country, received_at)
    return build(load_object(body, root), context)


def _checkout(doc: JsonObject, ctx: _Context) -> list[Event]:
    """The customer record's consent first, then the cart: on a tie in time, the box ticked on
    this checkout is recorded after the record and so wins."""
    occurred_at = _first_time(doc, ("updated_at", "created_at"), ctx)
    cart = CartUpdated(
        store_id=ctx.store_id,
        cart_key=doc.require_text("token"),
        occurred_at=occurred_at,
        currency=_currency(doc, ("presentment_currency", "currency")),
        total=_required_amount(doc, ("total_price",)),
        customer=_customer(doc, ("email",), ctx.default_country),
        consent=_consent(doc),
        recovery_url=doc.text("abandoned_checkout_url"),
        cart_token=doc.text("cart_token"),
        items=tuple(_line_item(item) for item in doc.children("line_items")),
        discount_codes=_discount_codes(doc),
    )
    return [*_customer_record_consent(doc, cart.customer, occurred_at, ctx), cart]


def _checkout_deleted(doc: JsonObject, ctx: _Context) -> CartDeleted:
    token, cart_token = doc.text("token"), doc.text("cart_token")
    if token is None and cart_token is None:
        doc.require_text("token")  # raises, naming the field
    return CartDeleted(
        store_id=ctx.store_id,
        cart_key=token,
        cart_token=cart_token,
        occurred_at=_first_time(doc, ("updated_at",), ctx),
    )


def _order(doc: JsonObject, ctx: _Context) -> OrderPlaced:
    return OrderPlaced(
        store_id=ctx.store_id,
        order_key=doc.require_ident("id"),
        occurred_at=_first_time(doc, ("created_at", "processed_at"), ctx),
        currency=_currency(doc, ("currency", "presentment_currency")),
        total=_required_amount(doc, ("total_price", "current_total_price")),
        customer=_customer(doc, ("email", "contact_email"), ctx.default_country),
        cart_key=doc.text("checkout_token"),
        cart_token=doc.text("cart_token"),
        paid=ctx.topic == ORDER_PAID or doc.text("financial_status") in PAID_STATUSES,
        discount_codes=_discount_codes(doc),
        discount_total=doc.amount("total_discounts") or Decimal("0"),
    )


def _sms_consent(doc: JsonObject, ctx: _Context) -> list[Event]:
    consent = _required_child(doc, "sms_marketing_consent")
    phone = _phone(doc.text("phone"), ctx.default_country)[0]
    customer_id = doc.ident("customer_id") or doc.ident("id")
    event = shopify_consent.sms_consent(consent, phone, customer_id, _consent_context(ctx))
    return [event] if event is not None else []


def _email_consent(doc: JsonObject, ctx: _Context) -> list[Event]:
    consent = _required_child(doc, "email_marketing_consent")
    customer_id = doc.ident("customer_id") or doc.ident("id")
    email = doc.text("email_address")
    event = shopify_consent.email_consent(consent, email, customer_id, _consent_context(ctx))
    return [event] if event is not None else []


def _one(build: Callable[[JsonObject, _Context], Event]) -> _Build:
    return lambda doc, ctx: [build(doc, ctx)]


def _privacy(build: Callable[..., Event]) -> _Build:
    """customers/data_request, customers/redact, shop/redact (see `shopify_privacy`)."""
    return lambda doc, ctx: [
        build(
            doc,
            store_id=ctx.store_id,
            default_country=ctx.default_country,
            received_at=ctx.received_at,
        )
    ]


_Handler = tuple[str, _Build]

# orders/cancelled, orders/updated and refunds/create are subscribed to but not read here yet:
# they are stored raw and give no events.
_HANDLERS: dict[str, _Handler] = {
    CHECKOUT_CREATE: ("checkout", _checkout),
    CHECKOUT_UPDATE: ("checkout", _checkout),
    CHECKOUT_DELETE: ("checkout", _one(_checkout_deleted)),
    ORDER_CREATE: ("order", _one(_order)),
    ORDER_PAID: ("order", _one(_order)),
    SMS_CONSENT_UPDATE: ("body", _sms_consent),
    EMAIL_CONSENT_UPDATE: ("body", _email_consent),
    DATA_REQUEST: ("body", _privacy(shopify_privacy.data_request)),
    CUSTOMER_REDACT: ("body", _privacy(shopify_privacy.customer_redact)),
    SHOP_REDACT: ("body", _privacy(shopify_privacy.shop_redact)),
}

TOPICS: frozenset[str] = frozenset(_HANDLERS)


# --- fields shared by several topics ----------------------------------------------------------


def _first_time(doc: JsonObject, keys: tuple[str, ...], ctx: _Context) -> datetime:
    for key in keys:
        moment = doc.timestamp(key)
        if moment is not None:
            return moment
    return ctx.received_at


def _currency(doc: JsonObject, keys: tuple[str, ...]) -> str:
    for key in keys:
        code = doc.text(key)
        if code is not None:
            return code.upper()
    doc.fail(keys[0], "missing")


def _required_amount(doc: JsonObject, keys: tuple[str, ...]) -> Decimal:
    for key in keys:
        amount = doc.amount(key)
        if amount is not None:
            return amount
    doc.fail(keys[0], "missing")


def _required_child(doc: JsonObject, key: str) -> JsonObject:
    child = doc.child(key)
    if child is None:
        doc.fail(key, "missing")
    return child


def _line_item(item: JsonObject) -> LineItem:
    quantity = item.integer("quantity")
    price = item.amount("price")
    if quantity is None:
        item.fail("quantity", "missing")
    if price is None:
        item.fail("price", "missing")
    return LineItem(
        title=item.text("title") or item.text("presentment_title") or "",
        quantity=quantity,
        price=price,
        sku=item.text("sku"),
        product_id=item.ident("product_id"),
        variant_id=item.ident("variant_id"),
        image_url=_image_url(item),
    )


def _image_url(item: JsonObject) -> str | None:
    """Some versions send `image_url`, some `image` as a URL or as an object with `src`."""
    if item.text("image_url") is not None:
        return item.text("image_url")
    if isinstance(item.data.get("image"), str):
        return item.text("image")
    image = item.child("image")
    return image.text("src") if image is not None else None


def _discount_codes(doc: JsonObject) -> tuple[str, ...]:
    codes = (entry.text("code") for entry in doc.children("discount_codes"))
    return tuple(code for code in codes if code is not None)


# --- who the customer is ----------------------------------------------------------------------


def _customer(
    doc: JsonObject, email_keys: tuple[str, ...], default_country: str | None
) -> Customer:
    nested = doc.child("customer")
    addresses = _addresses(doc)
    country = _country(addresses, nested)
    phone, phone_raw = _phone(_raw_phone(doc, nested, addresses), country or default_country)
    return Customer(
        external_id=nested.ident("id") if nested else None,
        email=_first_text([doc, *_present(nested)], email_keys),
        phone=phone,
        phone_raw=phone_raw,
        first_name=_first_text([*_present(nested), *addresses], ("first_name",)),
        last_name=_first_text([*_present(nested), *addresses], ("last_name",)),
        country=country,
        orders_count=nested.integer("orders_count") if nested else None,
        total_spent=nested.amount("total_spent") if nested else None,
        tags=_tags(nested.text("tags") if nested else None),
    )


def _present(doc: JsonObject | None) -> list[JsonObject]:
    return [doc] if doc is not None else []


def _addresses(doc: JsonObject) -> list[JsonObject]:
    """Billing first, then shipping: the billing address is the one the buyer typed themself."""
    return [*_present(doc.child("billing_address")), *_present(doc.child("shipping_address"))]


def _first_text(sources: list[JsonObject], keys: tuple[str, ...]) -> str | None:
    for source in sources:
        for key in keys:
            value = source.text(key)
            if value is not None:
                return value
    return None


def _country(addresses: list[JsonObject], nested: JsonObject | None) -> str | None:
    default_address = nested.child("default_address") if nested else None
    code = _first_text([*addresses, *_present(default_address)], ("country_code",))
    return code.upper() if code is not None else None


def _raw_phone(
    doc: JsonObject, nested: JsonObject | None, addresses: list[JsonObject]
) -> str | None:
    """The number the buyer gave for SMS marketing wins over any other on the checkout."""
    return _first_text([doc], ("sms_marketing_phone", "phone")) or _first_text(
        [*_present(nested), *addresses], ("phone",)
    )


def _phone(raw: str | None, country: str | None) -> tuple[str | None, str | None]:
    """(E.164 or None, what was sent). An invalid number keeps its raw text for reporting."""
    return shopify_consent.customer_phone(raw, country), raw


def _tags(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    return tuple(tag.strip() for tag in raw.split(",") if tag.strip())


# --- consent ---------------------------------------------------------------------------------


def _consent(doc: JsonObject) -> Consent:
    """The boxes on this checkout: ticked is a grant, unticked says nothing (the box is often not
    even shown to people who already subscribed). The customer's record is read apart."""
    return Consent(
        sms=doc.flag("buyer_accepts_sms_marketing"), email=doc.flag("buyer_accepts_marketing")
    )


def _customer_record_consent(
    doc: JsonObject, customer: Customer, occurred_at: datetime, ctx: _Context
) -> list[ConsentChanged]:
    """Consent on the checkout's nested customer (payloads older than 2025-01), for that
    customer's own phone and email: the record is about them, not about the checkout's fields."""
    nested = doc.child("customer")
    if nested is None:
        return []
    context = shopify_consent.ConsentContext(ctx.store_id, f"shopify:{ctx.topic}", occurred_at)
    customer_id = nested.ident("id")
    email = nested.text("email")
    phone = _phone(nested.text("phone"), customer.country or ctx.default_country)[0]
    events: list[ConsentChanged | None] = []
    sms = nested.child("sms_marketing_consent")
    if sms is not None:
        events.append(shopify_consent.sms_consent(sms, phone, customer_id, context))
    email_record = nested.child("email_marketing_consent")
    if email_record is not None:
        events.append(shopify_consent.email_consent(email_record, email, customer_id, context))
    else:
        events.append(shopify_consent.legacy_email_consent(nested, email, customer_id, context))
    return [event for event in events if event is not None]


def _consent_context(ctx: _Context) -> shopify_consent.ConsentContext:
    return shopify_consent.ConsentContext(ctx.store_id, f"shopify:{ctx.topic}", ctx.received_at)
