"""Generic webhooks: any shop, or Zapier / Make, posting cartback's own event format.

The format is `schemas/generic-webhook.v1.json`: `cart.updated`, `order.placed`,
`order.updated`, `order.refunded`, `consent.changed` and `cart.deleted`, each with `event_id`,
`type` and `occurred_at`. Bodies are
JSON, or the same fields form-encoded with flat keys (`cart.items[0].title=T-shirt`,
`customer.consent.sms=true`; PHP-style `cart[items][0][title]` works too). Unknown fields are
ignored, so senders may add fields before we read them.

Requests are signed like Stripe's: `X-Cartback-Signature: t=<unix time>,v1=<hex>` where the hex
is HMAC-SHA256 of `"<t>.<raw body>"` under the store's secret. Several `v1` values may be sent
while a secret is rotated; one matching is enough. A timestamp outside the tolerance is refused,
so a captured request cannot be replayed later.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cartback.domain.bounds import OutOfBounds, check_time
from cartback.domain.events import Event
from cartback.integrations._json import PayloadError
from cartback.integrations.generic_form import decode, field_path
from cartback.integrations.generic_models import MODELS, TYPES, Envelope, ident
from cartback.integrations.generic_signature import (
    SIGNATURE_HEADER,
    TOLERANCE,
    VerifyResult,
    sign,
    verify,
)
from cartback.integrations.platform import (
    Platform,
    ShopStore,
    StoredDelivery,
    Verdict,
    WebhookRequest,
    keyed,
    secret_of,
)

__all__ = [
    "SIGNATURE_HEADER",
    "TOLERANCE",
    "TYPES",
    "GenericPlatform",
    "PayloadError",
    "VerifyResult",
    "decode",
    "delivery_key",
    "parse",
    "sign",
    "verify",
]

SCHEMA_VERSION = "1"


# --- parsing ----------------------------------------------------------------------------------


def delivery_key(body: bytes, content_type: str | None = None) -> str:
    """The sender's `event_id`: deliveries that repeat it are duplicates."""
    value = decode(body, content_type).get("event_id")
    try:
        return ident(value)
    except ValueError as exc:
        raise PayloadError(f"event_id: {'missing' if value is None else exc}") from None


def parse(
    body: bytes,
    content_type: str | None,
    *,
    store_id: str,
    default_country: str | None,
    received_at: datetime,
    currency: str | None = None,
) -> list[Event]:
    """Validate one delivery and turn it into its domain event.

    Raises PayloadError naming the field by its path, e.g. `cart.items[0].price: 'abc' is not
    an amount`. `received_at` is unused today: every event carries `occurred_at`. `currency` is
    the store's configured currency: a `store_total` is read only against it.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    data = decode(body, content_type)
    kind = data.get("type")
    model = MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        known = ", ".join(sorted(TYPES))
        raise PayloadError(f"type: {'missing' if kind is None else repr(kind)} (known: {known})")
    event = _validate(model, data)
    try:
        at = check_time("occurred_at", event.occurred_at)
    except OutOfBounds as exc:
        raise PayloadError(str(exc)) from None
    return [event.to_event(store_id, default_country, at, currency)]


def _validate(model: type[Envelope], data: dict[str, Any]) -> Envelope:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PayloadError("; ".join(_problem(error) for error in exc.errors())) from None


def _problem(error: Any) -> str:
    path = field_path(tuple(error["loc"]))
    if error["type"] == "missing":
        return f"{path}: missing"
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):
        return f"{path}: {cause}"
    return f"{path}: {error['msg']} (got {error.get('input')!r})"


# --- the platform -----------------------------------------------------------------------------

_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "generic-webhook.v1.json"


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(_SCHEMA.read_text(encoding="utf-8"))
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    return schema


class GenericPlatform(Platform):
    """`POST /webhooks/generic/{store_id}`: cartback's own event format, signed or on trust."""

    name = "generic"
    path = "/webhooks/generic/{store_id}"
    fixed_topic = "event"
    summary = "Generic webhook (custom shops, Zapier, Make)"
    description = (
        "JSON (or the same fields form-encoded) per the schema below, version "
        f"{SCHEMA_VERSION}. Sign with `{SIGNATURE_HEADER}: t=<unix time>,"
        'v1=<hex HMAC-SHA256 of "<t>.<body>">`; deliveries older than 5 minutes are refused.'
    )

    openapi_extra = {
        "requestBody": {
            "content": {
                "application/json": {"schema": _schema()},
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
            }
        }
    }

    def config_problem(self, store: ShopStore) -> tuple[str, str] | None:
        if not secret_of(store) and not store.insecure:
            problem = (
                "required for a generic store (or set insecure: true to accept unsigned webhooks)"
            )
            return "webhook_secret", problem
        return None

    def verify(self, request: WebhookRequest, store: ShopStore, now: datetime) -> Verdict:
        if store.insecure:
            return Verdict.accept()
        result = verify(request.body, request.header(SIGNATURE_HEADER), secret_of(store), now)
        return Verdict.accept() if result.ok else Verdict.refuse(str(result))

    def delivery_key(self, request: WebhookRequest) -> str | None:
        try:
            return delivery_key(request.body, request.header("content-type"))
        except ValueError:
            return None  # stored all the same; the parse names the problem

    def sequence_key(self, request: WebhookRequest) -> str | None:
        """The cart an event is about: `cart.id`, or an order's `order.cart_id`."""
        data = decode(request.body, request.header("content-type"))
        cart, order = data.get("cart"), data.get("order")
        if isinstance(cart, dict):
            return keyed("cart", cart.get("id"))
        return keyed("cart", order.get("cart_id")) if isinstance(order, dict) else None

    def parse(
        self, delivery: StoredDelivery, store: ShopStore, received_at: datetime
    ) -> list[Event]:
        return parse(
            delivery.body,
            delivery.header("content-type"),
            store_id=store.id,
            default_country=store.default_country,
            received_at=received_at,
            currency=store.currency,
        )
