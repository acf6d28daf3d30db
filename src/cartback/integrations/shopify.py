"""Shopify webhooks: verify the signature, turn the JSON body into domain events.

Payload shapes differ by API version. Since 2025-01 the checkout's nested `customer` carries no
consent, tags or order count, and since 2026-04 a checkout has no `id` (its `token` is the key).
Older versions keep SMS consent on `customer.sms_marketing_consent`. Both are read here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from cartback.domain.emails import normalize_email
from cartback.domain.events import (
    CartDeleted,
    CartUpdated,
    Channel,
    ConsentChanged,
    Customer,
    Event,
    LineItem,
    OrderPlaced,
)
from cartback.domain.phone import split_phone
from cartback.errors import UnknownStore
from cartback.integrations._json import JsonObject, PayloadError, first_text, load_object, present
from cartback.integrations._signing import Base64HmacPlatform, sign_b64, verify_b64
from cartback.integrations.platform import (
    ShopStore,
    StoredDelivery,
    StoreDirectory,
    WebhookRequest,
    secret_of,
)
from cartback.integrations.shopify_consent import checkout_consent, consent_detail, granted

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
    "ShopifyPlatform",
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


def parse(
    topic: str,
    body: bytes,
    *,
    store_id: str,
    default_country: str | None,
    received_at: datetime,
) -> list[Event]:
    """Turn one webhook delivery into domain events; a topic we don't handle gives none.

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
    return [build(load_object(body, root), context)]


def _checkout(doc: JsonObject, ctx: _Context) -> CartUpdated:
    return CartUpdated(
        store_id=ctx.store_id,
        cart_key=doc.require_text("token"),
        occurred_at=_first_time(doc, ("updated_at", "created_at"), ctx),
        currency=_currency(doc, ("presentment_currency", "currency")),
        total=doc.require_amount("total_price"),
        customer=_customer(doc, ("email",), ctx.default_country),
        consent=checkout_consent(doc),
        recovery_url=doc.text("abandoned_checkout_url"),
        cart_token=doc.text("cart_token"),
        items=tuple(_line_item(item) for item in doc.children("line_items")),
        discount_codes=_discount_codes(doc),
    )


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
        total=doc.require_amount("total_price", "current_total_price"),
        customer=_customer(doc, ("email", "contact_email"), ctx.default_country),
        cart_key=doc.text("checkout_token"),
        cart_token=doc.text("cart_token"),
        paid=ctx.topic == ORDER_PAID or doc.text("financial_status") in PAID_STATUSES,
        discount_codes=_discount_codes(doc),
        discount_total=doc.amount("total_discounts") or Decimal("0"),
    )


def _sms_consent(doc: JsonObject, ctx: _Context) -> ConsentChanged:
    consent = doc.require_child("sms_marketing_consent")
    return ConsentChanged(
        store_id=ctx.store_id,
        channel=Channel.SMS,
        granted=granted(consent),
        occurred_at=_first_time(consent, ("consent_updated_at",), ctx),
        source=f"shopify:{ctx.topic}",
        phone=split_phone(doc.text("phone"), ctx.default_country)[0],
        customer_external_id=doc.ident("customer_id") or doc.ident("id"),
        detail=consent_detail(consent, ("opt_in_level", "consent_collected_from")),
    )


def _email_consent(doc: JsonObject, ctx: _Context) -> ConsentChanged:
    consent = doc.require_child("email_marketing_consent")
    return ConsentChanged(
        store_id=ctx.store_id,
        channel=Channel.EMAIL,
        granted=granted(consent),
        occurred_at=_first_time(consent, ("consent_updated_at",), ctx),
        source=f"shopify:{ctx.topic}",
        email=normalize_email(doc.text("email_address")),
        customer_external_id=doc.ident("customer_id") or doc.ident("id"),
        detail=consent_detail(consent, ("opt_in_level",)),
    )


_Handler = tuple[str, Callable[[JsonObject, _Context], Event]]

_HANDLERS: dict[str, _Handler] = {
    CHECKOUT_CREATE: ("checkout", _checkout),
    CHECKOUT_UPDATE: ("checkout", _checkout),
    CHECKOUT_DELETE: ("checkout", _checkout_deleted),
    ORDER_CREATE: ("order", _order),
    ORDER_PAID: ("order", _order),
    SMS_CONSENT_UPDATE: ("body", _sms_consent),
    EMAIL_CONSENT_UPDATE: ("body", _email_consent),
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


def _line_item(item: JsonObject) -> LineItem:
    quantity = item.integer("quantity")
    if quantity is None:
        item.fail("quantity", "missing")
    return LineItem(
        title=item.text("title") or item.text("presentment_title") or "",
        quantity=quantity,
        price=item.require_amount("price"),
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
    phone, phone_raw = split_phone(_raw_phone(doc, nested, addresses), country or default_country)
    people = [*present(nested), *addresses]
    return Customer(
        external_id=nested.ident("id") if nested else None,
        email=normalize_email(first_text([doc, *present(nested)], email_keys)),
        phone=phone,
        phone_raw=phone_raw,
        first_name=first_text(people, ("first_name",)),
        last_name=first_text(people, ("last_name",)),
        country=country,
        orders_count=nested.integer("orders_count") if nested else None,
        total_spent=nested.amount("total_spent") if nested else None,
        tags=_tags(nested.text("tags") if nested else None),
    )


def _addresses(doc: JsonObject) -> list[JsonObject]:
    """Billing first, then shipping: the billing address is the one the buyer typed themself."""
    return [*present(doc.child("billing_address")), *present(doc.child("shipping_address"))]


def _country(addresses: list[JsonObject], nested: JsonObject | None) -> str | None:
    default_address = nested.child("default_address") if nested else None
    code = first_text([*addresses, *present(default_address)], ("country_code",))
    return code.upper() if code is not None else None


def _raw_phone(
    doc: JsonObject, nested: JsonObject | None, addresses: list[JsonObject]
) -> str | None:
    """The number the buyer gave for SMS marketing wins over any other on the checkout."""
    return first_text([doc], ("sms_marketing_phone", "phone")) or first_text(
        [*present(nested), *addresses], ("phone",)
    )


def _tags(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    return tuple(tag.strip() for tag in raw.split(",") if tag.strip())


# --- the platform -----------------------------------------------------------------------------


class ShopifyPlatform(Base64HmacPlatform):
    """`POST /webhooks/shopify`: the store is found by `X-Shopify-Shop-Domain`."""

    name = "shopify"
    path = "/webhooks/shopify"
    signature_header = HMAC_HEADER
    topic_header = TOPIC_HEADER
    kept_headers = (
        TOPIC_HEADER,
        SHOP_DOMAIN_HEADER,
        WEBHOOK_ID_HEADER,
        EVENT_ID_HEADER,
        TRIGGERED_AT_HEADER,
        API_VERSION_HEADER,
    )
    summary = "Shopify webhook"
    responses = {
        401: {"description": "bad or missing signature"},
        404: {"description": "unknown shop"},
    }

    def find_store(self, request: WebhookRequest, stores: StoreDirectory) -> ShopStore:
        domain = request.header(SHOP_DOMAIN_HEADER) or ""
        store = stores.store_by_shop_domain(domain)
        if store is None or store.platform != self.name or store.webhook_secret is None:
            raise UnknownStore(f"no shopify store is configured for shop domain {domain!r}")
        return store

    def config_problem(self, store: ShopStore) -> tuple[str, str] | None:
        if not store.shop_domain:
            return "shop_domain", "required for a shopify store"
        if not secret_of(store):
            return "webhook_secret", "required for a shopify store"
        return None

    def delivery_key(self, request: WebhookRequest) -> str | None:
        return request.header(WEBHOOK_ID_HEADER)

    def parse(
        self, delivery: StoredDelivery, store: ShopStore, received_at: datetime
    ) -> list[Event]:
        return parse(
            delivery.topic or "",
            delivery.body,
            store_id=store.id,
            default_country=store.default_country,
            received_at=received_at,
        )
