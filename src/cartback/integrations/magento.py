"""Magento 2 / Adobe Commerce: turn carts (quotes) and orders into domain events.

Two sources feed this module. The poller stores each polled cart as `{"cart": CartInterface,
"totals": TotalsInterface}` (topic `cart`) and each order as `{"order": OrderInterface}` (topic
`order`). The Adobe Commerce webhooks module can also post `observer.checkout_cart_save_after` and
`observer.sales_order_place_after` (`{"eventName", "data": {...}}`), read by `parse_webhook`.

Keys: a cart's key is its quote id; an order's key is its `increment_id` (the number the shopper
sees, and the only id an order has yet in `sales_order_place_after`), and its `quote_id` closes the
cart it came from. A quote carries no marketing consent; the only hint is the Newsletter module's
`customer.extension_attributes.is_subscribed`, read as email consent. SMS consent stays unknown.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote

from cartback.domain.emails import normalize_email
from cartback.domain.events import (
    CartDeleted,
    CartUpdated,
    Consent,
    Customer,
    Event,
    LineItem,
    OrderPlaced,
)
from cartback.domain.phone import choose_phone
from cartback.integrations import magento_orders
from cartback.integrations._json import JsonObject, PayloadError, first_text, load_object, present
from cartback.integrations.checkout_trail import magento_trail
from cartback.integrations.magento_client import parse_time
from cartback.integrations.magento_signature import SIGNATURE_HEADER, verify_webhook
from cartback.integrations.platform import (
    Accepted,
    Platform,
    ShopStore,
    StoredDelivery,
    Verdict,
    WebhookRequest,
)

__all__ = [
    "CART_TOPIC",
    "ORDER_TOPIC",
    "SIGNATURE_HEADER",
    "WEBHOOK_CART_EVENT",
    "WEBHOOK_ORDER_EVENT",
    "MagentoPlatform",
    "MagentoStore",
    "PayloadError",
    "parse",
    "parse_cart",
    "parse_order",
    "parse_webhook",
    "verify_webhook",
]

CART_TOPIC = "cart"
ORDER_TOPIC = "order"
WEBHOOK_CART_EVENT = "checkout_cart_save_after"
WEBHOOK_ORDER_EVENT = "sales_order_place_after"


@dataclass(frozen=True, slots=True)
class MagentoStore:
    """What parsing needs to know about the store a payload came from."""

    store_id: str
    default_country: str | None = None
    recovery_url_template: str | None = None
    currency: str | None = None  # the store's configured currency (None: Magento's base)


# --- entry points -----------------------------------------------------------------------------


def parse(
    topic: str | None, body: bytes, store: MagentoStore, received_at: datetime
) -> list[Event]:
    """A stored delivery → events: poller topics `cart` / `order`, anything else a webhook."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    if topic == CART_TOPIC:
        doc = load_object(body, "")
        cart = doc.require_child("cart")
        return _cart_events(cart, doc.child("totals"), store, received_at)
    if topic == ORDER_TOPIC:
        return [_order(load_object(body, "").require_child("order"), store, received_at)]
    return parse_webhook(body, store, received_at)


def parse_cart(
    cart: Mapping[str, object],
    totals: Mapping[str, object] | None,
    *,
    store_id: str,
    default_country: str | None,
    recovery_url_template: str | None,
    received_at: datetime,
) -> list[Event]:
    """A CartInterface (+ its totals) → one CartUpdated; an inactive or empty cart → none."""
    store = MagentoStore(store_id, default_country, recovery_url_template)
    doc_totals = JsonObject(totals, "totals") if totals is not None else None
    return _cart_events(JsonObject(cart, "cart"), doc_totals, store, received_at)


def parse_order(
    order: Mapping[str, object],
    *,
    store_id: str,
    default_country: str | None,
    received_at: datetime,
) -> OrderPlaced:
    return _order(JsonObject(order, "order"), MagentoStore(store_id, default_country), received_at)


def parse_webhook(body: bytes, store: MagentoStore, received_at: datetime) -> list[Event]:
    """An Adobe Commerce webhook body (default payload, or hook fields naming cart/quote/order)."""
    doc = load_object(body, "")
    data = doc.child("data") or doc
    event = (doc.text("eventName") or "").removeprefix("observer.")
    order = data.child("order")
    if order is not None and event in ("", WEBHOOK_ORDER_EVENT, "sales_order_place_before"):
        return [_order(order, store, received_at)]
    quote_doc = _webhook_quote(data)
    if quote_doc is not None:
        return _cart_events(quote_doc, None, store, received_at)
    if event in (WEBHOOK_CART_EVENT, WEBHOOK_ORDER_EVENT):
        doc.fail("data", f"{event} payload has no cart, quote or order")
    return []


def _webhook_quote(data: JsonObject) -> JsonObject | None:
    """`data.cart.quote` (Checkout Cart model), `data.quote`, or a configured `cart` field."""
    cart = data.child("cart")
    if cart is not None:
        return cart.child("quote") or cart
    return data.child("quote")


# --- carts ------------------------------------------------------------------------------------


def _cart_events(
    cart: JsonObject, totals: JsonObject | None, store: MagentoStore, received_at: datetime
) -> list[Event]:
    if _switch(cart, "is_active") is False:
        return []  # converted to an order (which closes it) or abandoned by Magento itself
    cart_key = cart.ident("id") or cart.require_ident("entity_id")
    if cart.integer("items_count") == 0:  # the shopper emptied it: pending steps are cancelled
        at = _time(cart, ("updated_at", "created_at")) or received_at
        return [CartDeleted(store_id=store.store_id, cart_key=cart_key, occurred_at=at)]
    items = _items(cart) or (_items(totals) if totals is not None else [])
    customer = _cart_customer(cart, store.default_country)
    currency = _cart_currency(cart, totals)
    sources = [*present(cart.child("currency")), *present(totals), cart]
    store_currency, store_total = magento_orders.cart_store_money(sources, currency, store.currency)
    return [
        CartUpdated(
            store_id=store.store_id,
            cart_key=cart_key,
            occurred_at=_time(cart, ("updated_at", "created_at")) or received_at,
            currency=currency,
            total=_cart_total(cart, totals, items),
            customer=customer,
            consent=Consent(sms=None, email=_newsletter(cart)),
            recovery_url=_recovery_url(store.recovery_url_template, cart_key, customer.email),
            items=tuple(items),
            store_currency=store_currency,
            store_total=store_total,
            trail=magento_trail(cart, customer),
        )
    ]


def _items(doc: JsonObject) -> list[LineItem]:
    return [_line_item(item) for item in _objects(doc, "items")]


def _line_item(item: JsonObject) -> LineItem:
    quantity = item.require_amount("qty")
    return LineItem(
        title=item.text("name") or "",
        quantity=int(quantity),
        price=item.require_amount("price"),
        sku=item.text("sku"),
        product_id=item.ident("product_id"),
    )


def _cart_currency(cart: JsonObject, totals: JsonObject | None) -> str:
    currency = cart.child("currency")
    sources = [*([currency] if currency else []), cart, *([totals] if totals else [])]
    keys = ("quote_currency_code", "store_currency_code", "base_currency_code")
    code = first_text(sources, keys)
    if code is None:
        cart.fail("currency.quote_currency_code", "missing")
    return code.upper()


def _cart_total(cart: JsonObject, totals: JsonObject | None, items: list[LineItem]) -> Decimal:
    """Grand total from the totals call; without one, the quote's own or the items' sum."""
    for doc in (totals, cart):
        amount = doc.amount("grand_total") if doc is not None else None
        if amount is not None:
            return amount
    return sum((item.price * item.quantity for item in items), Decimal("0"))


def _cart_customer(cart: JsonObject, default_country: str | None) -> Customer:
    nested = cart.child("customer")
    billing = cart.child("billing_address")
    people = [doc for doc in (nested, billing) if doc is not None]
    country = _country(billing)
    phone = choose_phone(_telephone(billing), country or default_country)
    return Customer(
        external_id=(nested.ident("id") if nested else None) or cart.ident("customer_id"),
        email=normalize_email(first_text([cart, *people], ("customer_email", "email"))),
        phone=phone.e164,
        phone_raw=phone.raw,
        phone_source=phone.source,
        first_name=first_text([cart, *people], ("customer_firstname", "firstname")),
        last_name=first_text([cart, *people], ("customer_lastname", "lastname")),
        country=country,
    )


def _newsletter(cart: JsonObject) -> bool | None:
    nested = cart.child("customer")
    extension = nested.child("extension_attributes") if nested is not None else None
    return _switch(extension, "is_subscribed") if extension is not None else None


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _recovery_url(template: str | None, cart_key: str, email: str | None) -> str | None:
    if not template:
        return None
    values = _Blank(cart_id=quote(cart_key, safe=""), cart_key=quote(cart_key, safe=""))
    values["email"] = quote(email or "", safe="")
    return string.Formatter().vformat(template, (), values)


# --- orders -----------------------------------------------------------------------------------


def _order(doc: JsonObject, store: MagentoStore, received_at: datetime) -> OrderPlaced:
    """In the store's currency where the order has it (see `magento_orders`)."""
    billing = _billing_address(doc)
    country = _country(billing)
    phone = choose_phone(_telephone(billing), country or store.default_country)
    people = [doc, *present(billing)]
    money = magento_orders.order_money(doc, store.currency)
    if money is None:
        doc.fail("order_currency_code", "missing (or its grand_total is)")
    return OrderPlaced(
        store_id=store.store_id,
        order_key=doc.ident("increment_id") or doc.require_ident("entity_id"),
        occurred_at=_time(doc, ("created_at",)) or received_at,
        currency=money.currency,
        total=money.total,
        customer=Customer(
            external_id=doc.ident("customer_id"),
            email=normalize_email(first_text(people, ("customer_email", "email"))),
            phone=phone.e164,
            phone_source=phone.source,
            first_name=first_text(people, ("customer_firstname", "firstname")),
            last_name=first_text(people, ("customer_lastname", "lastname")),
            country=country,
        ),
        cart_key=doc.ident("quote_id"),
        paid=(doc.amount("total_paid") or Decimal("0")) > 0,
        discount_codes=tuple(code for code in [doc.text("coupon_code")] if code),
        discount_total=money.discount,
        status=magento_orders.order_status(doc),
        refunds=money.refunds,
    )


def _telephone(address: JsonObject | None) -> list[tuple[str, str | None]]:
    if address is None:
        return []
    return [("billing_address.telephone", address.text("telephone"))]


def _billing_address(doc: JsonObject) -> JsonObject | None:
    """REST has `billing_address`; the webhook's order model has `addresses` (list or map)."""
    billing = doc.child("billing_address")
    if billing is not None:
        return billing
    for address in _objects(doc, "addresses"):
        if address.text("address_type") == "billing":
            return address
    return None


# --- shared fields ----------------------------------------------------------------------------


def _switch(doc: JsonObject, key: str) -> bool | None:
    """A flag Magento writes as true/false, 1/0 or "1"/"0"."""
    value = doc.data.get(key)
    if value is None or isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return str(value) == "1"
    doc.fail(key, f"expected true or false, got {value!r}")


def _objects(doc: JsonObject, key: str) -> list[JsonObject]:
    """An array of objects, or a map of them (`{"1": {...}}`, as some webhook payloads send)."""
    value = doc.data.get(key)
    if isinstance(value, dict):
        inner = JsonObject(value, doc.at(key))
        return [child for name in value if (child := inner.child(name)) is not None]
    return doc.children(key)


def _time(doc: JsonObject, keys: tuple[str, ...]) -> datetime | None:
    for key in keys:
        raw = doc.text(key)
        if raw is not None:
            try:
                return parse_time(raw)
            except ValueError as exc:
                doc.fail(key, str(exc))
    return None


def _country(address: JsonObject | None) -> str | None:
    code = address.text("country_id") if address is not None else None
    return code.upper() if code else None


# --- the platform -----------------------------------------------------------------------------


class MagentoPlatform(Platform):
    """Adobe Commerce webhooks; polled carts and orders are stored as this platform's too."""

    name = "magento"
    path = "/webhooks/magento/{store_id}"
    summary = "Adobe Commerce webhook (checkout_cart_save_after, sales_order_place_after)"

    def config_problem(self, store: ShopStore) -> tuple[str, str] | None:
        for key, value in (("base_url", store.base_url), ("access_token", store.access_token)):
            if not value:
                return key, "required for a magento store"
        return None

    def verify(self, request: WebhookRequest, store: ShopStore, now: datetime) -> Verdict:
        if store.webhook_public_key:
            signature = request.header(SIGNATURE_HEADER)
            if verify_webhook(request.body, signature, store.webhook_public_key):
                return Verdict.accept()
            return Verdict.refuse(f"the {SIGNATURE_HEADER} signature does not match this body")
        if store.insecure:
            return Verdict.accept()
        return Verdict.refuse(
            "set webhook_public_key (or insecure: true) to accept Commerce webhooks"
        )

    def topic(self, request: WebhookRequest) -> str:
        try:
            name = json.loads(request.body).get("eventName")
        except (ValueError, AttributeError, RecursionError):
            return "webhook"
        return name if isinstance(name, str) else "webhook"

    def delivery_key(self, request: WebhookRequest) -> str | None:
        return "webhook:" + hashlib.sha256(request.body).hexdigest()

    def parse(
        self, delivery: StoredDelivery, store: ShopStore, received_at: datetime
    ) -> list[Event]:
        target = MagentoStore(
            store.id, store.default_country, store.recovery_url_template, store.currency
        )
        return parse(delivery.topic, delivery.body, target, received_at)

    def answer(self, accepted: Accepted) -> dict[str, object]:
        # Commerce webhooks are synchronous: anything but success would block the shopper.
        return {"op": "success"}
