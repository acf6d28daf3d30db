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

from cartback.domain.emails import normalize_email
from cartback.domain.events import (
    CartDeleted,
    CartUpdated,
    Consent,
    Event,
    LineItem,
    OrderChanged,
    OrderPlaced,
)
from cartback.domain.phone import split_phone
from cartback.errors import UnknownStore
from cartback.integrations import shopify_consent, shopify_orders, shopify_privacy, shopify_topics
from cartback.integrations._json import JsonObject, PayloadError, load_object
from cartback.integrations._signing import Base64HmacPlatform, sign_b64, verify_b64
from cartback.integrations.checkout_trail import shopify_trail
from cartback.integrations.platform import (
    ShopStore,
    StoredDelivery,
    StoreDirectory,
    WebhookRequest,
    secret_of,
)
from cartback.integrations.shopify_customer import customer

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

ORDER_CREATE = "orders/create"
ORDER_PAID = "orders/paid"
ORDER_UPDATED = "orders/updated"
ORDER_CANCELLED = "orders/cancelled"
REFUND_CREATE = "refunds/create"
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
    currency: str | None = None  # the store's configured currency


_Build = Callable[[JsonObject, _Context], list[Event]]


def parse(
    topic: str,
    body: bytes,
    *,
    store_id: str,
    default_country: str | None,
    received_at: datetime,
    currency: str | None = None,
) -> list[Event]:
    """Turn one webhook delivery into domain events; a topic we don't handle gives none, and so
    does a consent update that says nothing (an undated `not_subscribed`).

    `received_at` (aware) stands in for the time of any event whose payload carries none.
    `currency` is the store's configured currency (None: the shop currency the payload names).
    Raises PayloadError naming the JSON path when the body can't be read.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    handler = _HANDLERS.get(topic)
    if handler is None:
        return []
    root, build = handler
    context = _Context(topic, store_id, default_country, received_at, currency)
    doc = load_object(body, root)
    events = build(doc, context)
    shopify_topics.fits_topic(doc, topic)
    return events


def _checkout(doc: JsonObject, ctx: _Context) -> list[Event]:
    """The customer record's consent first, then the cart: on a tie in time, the box ticked on
    this checkout is recorded after the record and so wins."""
    occurred_at = _first_time(doc, ("updated_at", "created_at"), ctx)
    currency = _currency(doc, ("presentment_currency", "currency"))
    store_currency = ctx.currency or _currency(doc, ("currency", "presentment_currency"))
    buyer = customer(doc, ("email",), ctx.default_country)
    cart = CartUpdated(
        store_id=ctx.store_id,
        cart_key=doc.require_text("token"),
        occurred_at=occurred_at,
        currency=currency,
        total=doc.require_amount("total_price"),
        customer=buyer,
        consent=_consent(doc),
        recovery_url=doc.text("abandoned_checkout_url"),
        cart_token=doc.text("cart_token"),
        items=tuple(_line_item(item, currency) for item in doc.children("line_items")),
        discount_codes=_discount_codes(doc),
        locale=doc.text("customer_locale"),
        store_currency=store_currency if store_currency != currency else None,
        store_total=_store_total(doc, store_currency) if store_currency != currency else None,
        trail=shopify_trail(doc, buyer),
    )
    record = shopify_consent.ConsentContext(ctx.store_id, f"shopify:{ctx.topic}", occurred_at)
    country = cart.customer.country or ctx.default_country
    return [*shopify_consent.customer_record(doc.child("customer"), country, record), cart]


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
    """In the store's money where the payload has it (see `shopify_orders`)."""
    total = shopify_orders.money_in(doc, "total_price", ctx.currency) or shopify_orders.Money(
        doc.require_amount("total_price", "current_total_price"),
        _currency(doc, ("currency", "presentment_currency")),
    )
    discount = shopify_orders.money_in(doc, "total_discounts", total.currency)
    status, reason = shopify_orders.status(doc)
    return OrderPlaced(
        store_id=ctx.store_id,
        order_key=doc.require_ident("id"),
        occurred_at=_first_time(doc, ("created_at", "processed_at"), ctx),
        currency=total.currency,
        total=total.amount,
        customer=customer(doc, ("email", "contact_email"), ctx.default_country),
        cart_key=doc.text("checkout_token"),
        cart_token=doc.text("cart_token"),
        paid=ctx.topic == ORDER_PAID or doc.text("financial_status") in PAID_STATUSES,
        discount_codes=_discount_codes(doc),
        discount_total=discount.amount
        if discount is not None and discount.currency == total.currency
        else doc.amount("total_discounts") or Decimal("0"),
        status=status,
        test=doc.flag("test") is True,
        refunds=shopify_orders.refunds(doc, ctx.currency),
        reason=reason,
    )


def _refund(doc: JsonObject, ctx: _Context) -> list[Event]:
    """`refunds/create`: money paid back on a known order, in shop money."""
    refund = shopify_orders.refund(doc, ctx.currency)
    if refund is None:
        return []
    change = OrderChanged(
        store_id=ctx.store_id,
        order_key=doc.require_ident("order_id"),
        occurred_at=_first_time(doc, ("processed_at", "created_at"), ctx),
        source=f"shopify:{ctx.topic}",
        refunds=(refund,),
    )
    return [change]


def _sms_consent(doc: JsonObject, ctx: _Context) -> list[Event]:
    consent = doc.require_child("sms_marketing_consent")
    phone = split_phone(doc.text("phone"), ctx.default_country)[0]
    customer_id = doc.ident("customer_id") or doc.ident("id")
    event = shopify_consent.sms_consent(consent, phone, customer_id, _consent_context(ctx))
    return [event] if event is not None else []


def _email_consent(doc: JsonObject, ctx: _Context) -> list[Event]:
    consent = doc.require_child("email_marketing_consent")
    customer_id = doc.ident("customer_id") or doc.ident("id")
    email = normalize_email(doc.text("email_address"))
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

_HANDLERS: dict[str, _Handler] = {
    shopify_topics.CHECKOUT_CREATE: ("checkout", _checkout),
    shopify_topics.CHECKOUT_UPDATE: ("checkout", _checkout),
    shopify_topics.CHECKOUT_DELETE: ("checkout", _one(_checkout_deleted)),
    ORDER_CREATE: ("order", _one(_order)),
    ORDER_PAID: ("order", _one(_order)),
    ORDER_UPDATED: ("order", _one(_order)),
    ORDER_CANCELLED: ("order", _one(_order)),
    REFUND_CREATE: ("refund", _refund),
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


def _line_item(item: JsonObject, currency: str) -> LineItem:
    """The price in the cart's currency: from `price_set` where it has one in it."""
    quantity = item.integer("quantity")
    if quantity is None:
        item.fail("quantity", "missing")
    priced = shopify_orders.money_in(item, "price", currency)
    return LineItem(
        title=item.text("title") or item.text("presentment_title") or "",
        quantity=quantity,
        price=priced.amount
        if priced is not None and priced.currency == currency
        else item.require_amount("price"),
        sku=item.text("sku"),
        product_id=item.ident("product_id"),
        variant_id=item.ident("variant_id"),
        image_url=_image_url(item),
    )


def _store_total(doc: JsonObject, store_currency: str) -> Decimal | None:
    """A checkout's total in the store's currency, where the payload gives one."""
    total = shopify_orders.money_in(doc, "total_price", store_currency)
    return total.amount if total is not None and total.currency == store_currency else None


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


# --- consent ---------------------------------------------------------------------------------


def _consent(doc: JsonObject) -> Consent:
    """The boxes on this checkout: ticked is a grant, unticked says nothing (the box is often not
    even shown to people who already subscribed). The customer's record is read apart."""
    return Consent(
        sms=doc.flag("buyer_accepts_sms_marketing"), email=doc.flag("buyer_accepts_marketing")
    )


def _consent_context(ctx: _Context) -> shopify_consent.ConsentContext:
    return shopify_consent.ConsentContext(ctx.store_id, f"shopify:{ctx.topic}", ctx.received_at)


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
    sequence_fields = (("checkout_token", "checkout"), ("token", "checkout"))  # orders follow
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
            currency=store.currency,
        )
