"""WooCommerce webhooks: where they arrive, how they are checked and deduplicated.

Deliveries are signed (`X-WC-Webhook-Signature`: base64 HMAC-SHA256 of the raw body) and never
retried. The ping sent when a webhook is saved is a form body `webhook_id=N` with no signature.
The order payloads are read in `woocommerce_orders` (carts are pending and draft orders there).
The free "Cart Abandonment Recovery" plugin is a second source, read in `woocommerce_cart_recovery`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime

from cartback.domain.events import Event
from cartback.integrations._json import PayloadError, load_object
from cartback.integrations._signing import Base64HmacPlatform, sign_b64, verify_b64
from cartback.integrations.platform import (
    ShopStore,
    StoredDelivery,
    WebhookRequest,
    header,
    secret_of,
)
from cartback.integrations.woocommerce_orders import TOPICS, StoreContext, parse

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "RESOURCE_HEADER",
    "SIGNATURE_HEADER",
    "SOURCE_HEADER",
    "TOPICS",
    "TOPIC_HEADER",
    "WEBHOOK_ID_HEADER",
    "PayloadError",
    "StoreContext",
    "WooCommercePlatform",
    "delivery_key",
    "is_ping",
    "parse",
    "sign",
    "verify",
]

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
SOURCE_HEADER = "X-WC-Webhook-Source"  # home_url('/'), e.g. "https://shop.example/"
TOPIC_HEADER = "X-WC-Webhook-Topic"  # e.g. "order.updated"
RESOURCE_HEADER = "X-WC-Webhook-Resource"  # "order"
EVENT_HEADER = "X-WC-Webhook-Event"  # "updated"
WEBHOOK_ID_HEADER = "X-WC-Webhook-ID"
DELIVERY_HEADER = "X-WC-Webhook-Delivery-ID"

_PING = re.compile(rb"webhook_id=\d+")


# --- signatures, pings, deduplication ---------------------------------------------------------


def sign(body: bytes, secret: str) -> str:
    """The `X-WC-Webhook-Signature` WooCommerce sends: base64 of HMAC-SHA256(body, secret)."""
    return sign_b64(body, secret)


def verify(body: bytes, signature: str | None, secret: str) -> bool:
    """Whether `signature` is WooCommerce's signature of the raw `body`. Never raises."""
    return verify_b64(body, signature, secret)


def is_ping(body: bytes, content_type: str | None) -> bool:
    """The unsigned `webhook_id=N` form body WooCommerce posts when a webhook is saved."""
    if content_type is not None and "json" in content_type.lower():
        return False
    return _PING.fullmatch(body.strip()) is not None


def delivery_key(headers: Mapping[str, str], body: bytes) -> str:
    """A deduplication key: delivery id, resource id and modification time.

    WooCommerce's delivery id is a hash of the webhook id and the current second, so two
    deliveries in one second share it; and it never retries, so no true duplicate needs it alone.
    """
    delivery = (header(headers, DELIVERY_HEADER) or "").strip() or "-"
    try:
        doc = load_object(body, "order")
        resource = doc.ident("id") or "-"
        modified = doc.text("date_modified_gmt") or doc.text("date_modified") or "-"
    except PayloadError:
        return f"{delivery}:sha256={hashlib.sha256(body).hexdigest()[:32]}"
    return f"{delivery}:{resource}:{modified}"


def store_context(store: ShopStore) -> StoreContext:
    """What the order parser needs to know about a store."""
    keys = store.consent_meta_keys
    return StoreContext(
        store_id=store.id,
        default_country=store.default_country,
        consent_meta_keys=(keys.sms, keys.email),
        recovery_url_template=store.recovery_url_template,
        currency=store.currency,
    )


# --- the platform -----------------------------------------------------------------------------


class WooCommercePlatform(Base64HmacPlatform):
    """`POST /webhooks/woocommerce/{store_id}`: WooCommerce's own order webhooks."""

    name = "woocommerce"
    path = "/webhooks/woocommerce/{store_id}"
    signature_header = SIGNATURE_HEADER
    topic_header = TOPIC_HEADER
    kept_headers = (TOPIC_HEADER, SOURCE_HEADER, DELIVERY_HEADER, WEBHOOK_ID_HEADER)
    summary = "WooCommerce order webhook"
    responses = {
        401: {"description": "bad or missing signature"},
        404: {"description": "unknown store"},
    }

    sequence_fields = (("id", "order"),)

    def config_problem(self, store: ShopStore) -> tuple[str, str] | None:
        if not secret_of(store):
            return "webhook_secret", "required for a woocommerce store"
        return None

    def ping(self, request: WebhookRequest) -> dict[str, object] | None:
        unsigned = request.header(SIGNATURE_HEADER) is None
        if unsigned and is_ping(request.body, request.header("content-type")):
            return {"status": "ping"}  # sent once, when the webhook is created
        return None

    def delivery_key(self, request: WebhookRequest) -> str | None:
        return delivery_key(request.headers, request.body)

    def parse(
        self, delivery: StoredDelivery, store: ShopStore, received_at: datetime
    ) -> list[Event]:
        return parse(
            delivery.topic or "",
            delivery.body,
            store=store_context(store),
            received_at=received_at,
            source_url=delivery.header(SOURCE_HEADER),
        )
