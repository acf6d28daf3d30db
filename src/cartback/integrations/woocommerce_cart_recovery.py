"""The "Cart Abandonment Recovery" plugin for WooCommerce (CartFlows) as a cart source.

The plugin (slug `woo-cart-abandonment-recovery`) captures the checkout form before an order
exists, which core WooCommerce's classic checkout never reports. Its "Webhook URL" setting posts a
form-encoded body (PHP `http_build_query`, no signature, no headers) to any URL:

- `order_status=abandoned` when its cron finds a cart untouched for the cut-off time, and
  `order_status=completed` when such a cart is later bought;
- `first_name`, `last_name`, `phone_number`, `email`, `billing_address`, `shipping_address`;
- `checkout_url`: the checkout page with `wcf_ac_token`, which is base64 of
  `wcf_session_id=<id>` (the plugin's cart id, the same for both statuses), HTML-escaped;
- `product_names`: titles joined as "A, B & C" (no quantities, no prices); `product_table` (HTML);
- `coupon_code` (when its coupon setting is on) and `cart_total` (a decimal, no currency).

The admin's "Trigger Sample" button posts `phone` instead of `phone_number` and a `cart_total`
with a currency symbol; both are accepted. The plugin sends no consent (→ None: such carts need
consent from elsewhere, e.g. a generic `consent.changed`) and no currency (→ the store's).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urlsplit

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
from cartback.integrations._json import JsonObject, PayloadError, load_object
from cartback.integrations.platform import (
    Accepted,
    Platform,
    ShopStore,
    StoredDelivery,
    Verdict,
    WebhookRequest,
    secret_of,
)
from cartback.integrations.woocommerce import store_context
from cartback.integrations.woocommerce_orders import StoreContext

__all__ = [
    "STATUSES",
    "TOPIC",
    "CartRecoveryPlatform",
    "parse_car",
    "url_token",
    "verify_url_token",
]

TOPIC = "cart-abandonment-recovery"  # its deliveries are stored under this topic

ABANDONED = "abandoned"
COMPLETED = "completed"
LOST = "lost"  # the plugin's state after its 30-day campaign; not posted today, read if it is
STATUSES = frozenset({ABANDONED, COMPLETED, LOST})

_AMOUNT = re.compile(r"[^\d\-.]*(-?\d+(?:\.\d+)?)\s*")
_TOKEN_PARAM = "wcf_ac_token"  # noqa: S105 (a query parameter name)


# --- authentication: the plugin signs nothing, so the URL carries a token ---------------------


def url_token(secret: str, store_id: str) -> str:
    """A token for the plugin's Webhook URL (`…?token=…`), derived so the secret stays private."""
    message = f"cartback:woocommerce-car:{store_id}".encode()
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()[:32]


def verify_url_token(token: str | None, secret: str, store_id: str) -> bool:
    """Whether `token` is `url_token(secret, store_id)`, compared in constant time."""
    if not token or not secret:
        return False
    return hmac.compare_digest(token.strip().encode(), url_token(secret, store_id).encode())


# --- parsing ----------------------------------------------------------------------------------


def parse_car(
    body: bytes,
    content_type: str | None,
    *,
    store: StoreContext,
    received_at: datetime,
) -> list[Event]:
    """Turn one plugin webhook (form-encoded, or the same fields as JSON) into one event."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    doc = _load(body, content_type)
    status = doc.require_text("order_status").lower()
    if status not in STATUSES:
        doc.fail("order_status", f"{status!r} is not one of {', '.join(sorted(STATUSES))}")
    cart_key = _cart_key(doc)
    if status == LOST:
        return [CartDeleted(store_id=store.store_id, cart_key=cart_key, occurred_at=received_at)]
    if status == COMPLETED:
        return [_order(doc, cart_key, store, received_at)]
    return [_cart(doc, cart_key, store, received_at)]


def _load(body: bytes, content_type: str | None) -> JsonObject:
    kind = (content_type or "").lower()
    if "json" in kind or (not kind and body.lstrip().startswith(b"{")):
        return load_object(body, "")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8 form data") from None
    fields = parse_qs(text, keep_blank_values=True)
    return JsonObject({key: values[-1] for key, values in fields.items()}, "")


def _cart(doc: JsonObject, cart_key: str, store: StoreContext, at: datetime) -> CartUpdated:
    return CartUpdated(
        store_id=store.store_id,
        cart_key=cart_key,
        occurred_at=at,  # the plugin sends no time; the delivery is the abandonment
        currency=_currency(doc, store),
        total=_total(doc),
        customer=_customer(doc, store),
        consent=Consent(),
        recovery_url=_checkout_url(doc),
        items=tuple(LineItem(title=name, quantity=1, price=Decimal("0")) for name in _names(doc)),
        discount_codes=_coupons(doc),
    )


def _order(doc: JsonObject, cart_key: str, store: StoreContext, at: datetime) -> OrderPlaced:
    """The plugin saw an order for an abandoned cart; it does not say which order."""
    return OrderPlaced(
        store_id=store.store_id,
        order_key=cart_key,
        occurred_at=at,
        currency=_currency(doc, store),
        total=_total(doc),
        customer=_customer(doc, store),
        cart_key=cart_key,
        discount_codes=_coupons(doc),
    )


# --- fields -----------------------------------------------------------------------------------


def _cart_key(doc: JsonObject) -> str:
    """The plugin's session id from the checkout URL's token, else the token, else the email."""
    token = _token(_checkout_url(doc))
    if token is not None:
        session = _session_id(token)
        return f"car:{session}" if session else f"car:token:{token}"
    email = normalize_email(doc.text("email"))
    if email is None:
        doc.fail("checkout_url", "missing, and no email to tell the cart by")
    return f"car:email:{email}"


def _checkout_url(doc: JsonObject) -> str | None:
    raw = doc.text("checkout_url")
    return html.unescape(raw) if raw is not None else None  # esc_url writes & as &#038;


def _token(url: str | None) -> str | None:
    if url is None:
        return None
    values = parse_qs(urlsplit(url).query).get(_TOKEN_PARAM)
    if not values:
        return None
    return values[-1].strip() or None


def _session_id(token: str) -> str | None:
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None  # e.g. the admin's sample, `wcf_ac_token=something`
    values = parse_qs(decoded).get("wcf_session_id")
    return values[-1] if values else None


def _total(doc: JsonObject) -> Decimal:
    raw = doc.data.get("cart_total")
    if isinstance(raw, Decimal | int) and not isinstance(raw, bool):
        return Decimal(raw)
    text = html.unescape(doc.require_text("cart_total"))
    match = _AMOUNT.fullmatch(text)  # the sample button sends e.g. "$20"
    try:
        return Decimal(match[1]) if match else Decimal(text)
    except InvalidOperation:
        doc.fail("cart_total", f"{text!r} is not an amount")


def _currency(doc: JsonObject, store: StoreContext) -> str:
    code = doc.text("currency") or store.currency
    if code is None:
        doc.fail("currency", "missing: the plugin sends none, so set `currency` on the store")
    return code.upper()


def _customer(doc: JsonObject, store: StoreContext) -> Customer:
    numbers = [("phone_number", doc.text("phone_number")), ("phone", doc.text("phone"))]
    phone = choose_phone(numbers, store.default_country)  # the sample button says "phone"
    return Customer(
        email=normalize_email(doc.text("email")),
        phone=phone.e164,
        phone_raw=phone.raw,
        phone_source=phone.source,
        first_name=doc.text("first_name"),
        last_name=doc.text("last_name"),
    )


def _names(doc: JsonObject) -> list[str]:
    """ "A, B & C" → [A, B, C]. A title that itself holds ", " or " & " is split too."""
    text = html.unescape(doc.text("product_names") or "")
    head, _, last = text.rpartition(" & ")
    names = [*head.split(", "), last] if head else text.split(", ")
    return [name.strip() for name in names if name.strip()]


def _coupons(doc: JsonObject) -> tuple[str, ...]:
    code = doc.text("coupon_code")
    return (code,) if code is not None else ()


# --- the platform -----------------------------------------------------------------------------


class CartRecoveryPlatform(Platform):
    """The plugin's webhook, for a WooCommerce store, authenticated by the token in its URL."""

    name = "woocommerce_cart_recovery"
    store_platform = "woocommerce"
    path = "/webhooks/woocommerce/{store_id}/cart-abandonment"
    fixed_topic = TOPIC
    route_name = "woocommerce_car_webhook"
    summary = "The WooCommerce Cart Abandonment Recovery plugin's webhook"
    description = "Point the plugin's Webhook URL here with `?token=` from `cartback tokens`."
    openapi_extra = {
        "parameters": [
            {
                "in": "query",
                "name": "token",
                "required": False,
                "schema": {"default": "", "title": "Token", "type": "string"},
            }
        ]
    }

    def verify(self, request: WebhookRequest, store: ShopStore, now: datetime) -> Verdict:
        if verify_url_token(request.query.get("token"), secret_of(store), store.id):
            return Verdict.accept()
        return Verdict.refuse("the token in the webhook URL does not match this store")

    def sequence_key(self, request: WebhookRequest) -> str | None:
        return None  # form fields, read whole when applied; one sequence per store

    def delivery_key(self, request: WebhookRequest) -> str | None:
        # The plugin sends no id: the same body is the same cart at the same moment.
        return "car:" + hashlib.sha256(request.body).hexdigest()

    def parse(
        self, delivery: StoredDelivery, store: ShopStore, received_at: datetime
    ) -> list[Event]:
        content_type = delivery.header("content-type")
        return parse_car(
            delivery.body, content_type, store=store_context(store), received_at=received_at
        )

    def answer(self, accepted: Accepted) -> dict[str, object]:
        return {"status": "success", "delivery_id": accepted.delivery_id}
