"""WooCommerce order payloads → domain events (the webhook itself is in `woocommerce`).

Core WooCommerce has no cart webhook. What it has is the order: the block checkout keeps a
`checkout-draft` order while the shopper types (delivered as `order.updated`), and the classic
checkout creates a `pending` order when they press "place order". Those are our carts, keyed by
order id, and the order that later turns `processing` closes the cart it was. `failed` keeps the
cart alive: WooCommerce still lets the customer pay a failed order (its pay link works for
`pending` and `failed`), so a failed payment is exactly the cart worth recovering.

An order already placed that turns `cancelled`, `refunded` or `failed` is no longer revenue
(`OrderChanged`); its `refunds` (id and negative total each) lower it refund by refund. Amounts
are in the order's `currency`: a store whose configured `currency` differs has the order
reported apart, and the cart's value for segments unknown (core WooCommerce sells in one
currency; multi-currency plugins keep no base amount in the order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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
    OrderChanged,
    OrderPlaced,
)
from cartback.domain.orders import OrderStatus, Refund
from cartback.domain.phone import choose_phone
from cartback.integrations._json import JsonObject, load_object
from cartback.integrations.checkout_trail import woocommerce_trail

__all__ = ["TOPICS", "StoreContext", "fill_template", "parse"]

ORDER_CREATED = "order.created"
ORDER_UPDATED = "order.updated"
ORDER_DELETED = "order.deleted"
ORDER_RESTORED = "order.restored"
TOPICS: frozenset[str] = frozenset({ORDER_CREATED, ORDER_UPDATED, ORDER_DELETED, ORDER_RESTORED})

CART_STATUSES = frozenset({"checkout-draft", "pending", "failed"})
ORDER_STATUSES = frozenset({"processing", "on-hold", "completed", "ready-for-pickup"})
PAID_STATUSES = frozenset({"processing", "completed"})
ENDED_STATUSES = frozenset({"cancelled", "trash"})
IGNORED_STATUSES = frozenset({"refunded"})  # the order it was has been recorded already
# A placed order in these is no longer revenue.
NOT_REVENUE = {
    "cancelled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
    "failed": OrderStatus.FAILED,
}

_TRUE = frozenset({"yes", "1", "true", "on"})
_FALSE = frozenset({"no", "0", "false", "off", ""})

# --- parsing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreContext:
    """What the parser needs to know about the store a delivery came to."""

    store_id: str
    default_country: str | None = None
    consent_meta_keys: tuple[str, str] = ("_sms_marketing_consent", "_email_marketing_consent")
    recovery_url_template: str | None = None
    currency: str | None = None  # the shop's currency; the CAR plugin sends none


@dataclass(frozen=True, slots=True)
class _Context:
    store: StoreContext
    received_at: datetime
    source_url: str | None


def parse(
    topic: str,
    body: bytes,
    *,
    store: StoreContext,
    received_at: datetime,
    source_url: str | None = None,
) -> list[Event]:
    """Turn one order webhook into domain events; other topics and statuses give none.

    `source_url` is the `X-WC-Webhook-Source` header (the shop's home URL), used to build the
    pay link when the payload has neither `payment_url` nor `_links`.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    if topic not in TOPICS:
        return []
    doc = load_object(body, "order")
    ctx = _Context(store, received_at, source_url)
    if topic == ORDER_DELETED:
        return [_deleted(doc, ctx)]
    return _by_status(doc, ctx)


def _by_status(doc: JsonObject, ctx: _Context) -> list[Event]:
    status = doc.require_text("status").lower()
    events = _as_cart_or_order(doc, ctx, status)
    if status in NOT_REVENUE:  # a no-op unless the order was placed before
        events.append(_changed(doc, ctx, NOT_REVENUE[status]))
    return events


def _as_cart_or_order(doc: JsonObject, ctx: _Context, status: str) -> list[Event]:
    if status in CART_STATUSES:
        cart = _cart(doc, ctx)
        has_contact = cart.customer.email is not None or cart.customer.phone_raw is not None
        return [cart] if has_contact else []
    if status in ENDED_STATUSES:
        return [_deleted(doc, ctx)]
    if status in ORDER_STATUSES:
        return [_order(doc, ctx, status)]
    if status not in IGNORED_STATUSES and doc.has("date_paid_gmt"):
        return [_order(doc, ctx, status)]  # a plugin's own status after payment, e.g. "shipped"
    return []


def _cart(doc: JsonObject, ctx: _Context) -> CartUpdated:
    order_id = doc.require_ident("id")
    customer = _customer(doc, ctx.store.default_country)
    currency = doc.require_text("currency").upper()
    store_currency = ctx.store.currency
    return CartUpdated(
        store_id=ctx.store.store_id,
        cart_key=order_id,
        occurred_at=_occurred_at(doc, ctx.received_at),
        currency=currency,
        total=doc.require_amount("total"),
        customer=customer,
        consent=_consent(doc, ctx.store.consent_meta_keys),
        recovery_url=_recovery_url(doc, order_id, customer.email, ctx),
        items=tuple(_line_item(item) for item in doc.children("line_items")),
        discount_codes=_discount_codes(doc),
        store_currency=store_currency if store_currency not in (None, currency) else None,
        trail=woocommerce_trail(doc, customer),
    )


def _order(doc: JsonObject, ctx: _Context, status: str) -> OrderPlaced:
    order_id = doc.require_ident("id")
    return OrderPlaced(
        store_id=ctx.store.store_id,
        order_key=order_id,
        occurred_at=_occurred_at(doc, ctx.received_at),
        currency=doc.require_text("currency").upper(),
        total=doc.require_amount("total"),
        customer=_customer(doc, ctx.store.default_country),
        cart_key=order_id,  # the pending or draft order it was is the cart it closes
        paid=status in PAID_STATUSES or doc.has("date_paid_gmt") or doc.has("date_paid"),
        discount_codes=_discount_codes(doc),
        discount_total=doc.amount("discount_total") or Decimal("0"),
        refunds=_refunds(doc),
    )


def _changed(doc: JsonObject, ctx: _Context, status: OrderStatus) -> OrderChanged:
    return OrderChanged(
        store_id=ctx.store.store_id,
        order_key=doc.require_ident("id"),
        occurred_at=_occurred_at(doc, ctx.received_at),
        source="woocommerce:order.updated",
        status=status,
        refunds=_refunds(doc),
    )


def _refunds(doc: JsonObject) -> tuple[Refund, ...]:
    """`refunds`: each `{id, reason, total}`, the total negative ("-10.00")."""
    found = []
    for entry in doc.children("refunds"):
        total = entry.amount("total")
        if total is not None and total != 0:
            found.append(Refund(entry.require_ident("id"), abs(total)))
    return tuple(found)


def _deleted(doc: JsonObject, ctx: _Context) -> CartDeleted:
    return CartDeleted(
        store_id=ctx.store.store_id,
        cart_key=doc.require_ident("id"),
        occurred_at=_occurred_at(doc, ctx.received_at),
    )


# --- fields -----------------------------------------------------------------------------------


def _occurred_at(doc: JsonObject, received_at: datetime) -> datetime:
    """`*_gmt` fields are UTC written without an offset; the others are the site's local time."""
    for key in ("date_modified_gmt", "date_created_gmt"):
        moment = _gmt(doc, key)
        if moment is not None:
            return moment
    local = _gmt(doc, "date_modified", naive_is_utc=False)
    return local if local is not None else received_at


def _gmt(doc: JsonObject, key: str, *, naive_is_utc: bool = True) -> datetime | None:
    raw = doc.text(key)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        doc.fail(key, f"{raw!r} is not an ISO 8601 timestamp")
    if moment.tzinfo is None:
        if not naive_is_utc:
            return None
        moment = moment.replace(tzinfo=UTC)
    return doc.within_calendar(key, moment)


def _line_item(item: JsonObject) -> LineItem:
    quantity = item.integer("quantity")
    if quantity is None:
        item.fail("quantity", "missing")
    return LineItem(
        title=item.text("name") or "",
        quantity=quantity,
        price=_unit_price(item, quantity),
        sku=item.text("sku"),
        product_id=_nonzero_id(item, "product_id"),
        variant_id=_nonzero_id(item, "variation_id"),
        image_url=_image_src(item),
    )


def _unit_price(item: JsonObject, quantity: int) -> Decimal:
    price = item.amount("price")
    if price is not None:
        return price
    total = item.amount("total")
    if total is None:
        item.fail("price", "missing (and no total to derive it from)")
    return total / quantity if quantity else total


def _nonzero_id(doc: JsonObject, key: str) -> str | None:
    value = doc.ident(key)
    return None if value in (None, "0") else value


def _image_src(item: JsonObject) -> str | None:
    image = item.data.get("image")
    if not isinstance(image, dict):
        return None  # absent, or WooCommerce's empty array when a product has no image
    return JsonObject(image, item.at("image")).text("src")


def _discount_codes(doc: JsonObject) -> tuple[str, ...]:
    codes = (line.text("code") for line in doc.children("coupon_lines"))
    return tuple(code for code in codes if code is not None)


# --- customer and consent ---------------------------------------------------------------------


def _customer(doc: JsonObject, default_country: str | None) -> Customer:
    billing = doc.child("billing")
    shipping = doc.child("shipping")
    country = _country(billing) or _country(shipping)
    numbers = [
        ("billing.phone", _text_of(billing, "phone")),
        ("shipping.phone", _text_of(shipping, "phone")),
    ]
    phone = choose_phone(numbers, country or default_country)
    return Customer(
        external_id=_nonzero_id(doc, "customer_id"),
        email=normalize_email(_text_of(billing, "email")),
        phone=phone.e164,
        phone_raw=phone.raw,
        phone_source=phone.source,
        first_name=_text_of(billing, "first_name") or _text_of(shipping, "first_name"),
        last_name=_text_of(billing, "last_name") or _text_of(shipping, "last_name"),
        country=country,
    )


def _text_of(doc: JsonObject | None, key: str) -> str | None:
    return doc.text(key) if doc is not None else None


def _country(address: JsonObject | None) -> str | None:
    code = _text_of(address, "country")
    return code.upper() if code is not None and len(code) == 2 else None


def _consent(doc: JsonObject, keys: tuple[str, str]) -> Consent:
    """Consent from the order's meta_data; the keys are configured per store."""
    values: dict[str, object] = {}
    for entry in doc.children("meta_data"):
        key = entry.text("key")
        if key in keys:
            values[key] = entry.data.get("value")
    sms_key, email_key = keys
    return Consent(sms=_answer(values, sms_key), email=_answer(values, email_key))


def _answer(values: Mapping[str, object], key: str) -> bool | None:
    if key not in values:
        return None
    value = values[key]
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if text in _TRUE:
        return True
    return False if text in _FALSE else None


# --- the link back to the basket --------------------------------------------------------------


def _recovery_url(doc: JsonObject, order_id: str, email: str | None, ctx: _Context) -> str | None:
    """The order's own pay link, else one built from the shop URL, else the store's template."""
    payment_url = doc.text("payment_url")
    if payment_url is not None:
        return payment_url
    order_key = doc.text("order_key")
    home = _home_url(doc) or ctx.source_url
    if order_key is not None and home is not None:
        query = f"pay_for_order=true&key={quote(order_key, safe='')}"
        return f"{home.rstrip('/')}/checkout/order-pay/{order_id}/?{query}"
    return fill_template(ctx.store.recovery_url_template, order_id, order_key, email)


def _home_url(doc: JsonObject) -> str | None:
    """The shop's root from `_links.self[0].href` (`…/wp-json/wc/v3/orders/N`)."""
    links = doc.child("_links")
    selves = links.children("self") if links is not None else []
    href = selves[0].text("href") if selves else None
    if href is None:
        return None
    for marker in ("/wp-json/", "/?rest_route=", "/index.php?rest_route="):
        if marker in href:
            return href.split(marker, 1)[0] + "/"
    return None


def fill_template(
    template: str | None, cart_id: str, order_key: str | None, email: str | None
) -> str | None:
    """`recovery_url_template` with {cart_id}, {cart_key}, {order_key} and {email} filled in."""
    if template is None:
        return None
    values = {
        "{cart_id}": cart_id,
        "{cart_key}": cart_id,
        "{order_key}": order_key or "",
        "{email}": email or "",
    }
    for placeholder, value in values.items():
        template = template.replace(placeholder, quote(value, safe="@"))
    return template
