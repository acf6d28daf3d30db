"""Shop webhooks. Verify first (nothing is stored for a bad signature), then store the raw
delivery, then parse it. Every platform ends in the same ingest service."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from cartback.api.deps import RuntimeDep
from cartback.config import StoreConfig
from cartback.engine.ingest import Delivery, IngestResult, Outcome
from cartback.integrations import generic, magento, shopify, woocommerce, woocommerce_cart_recovery
from cartback.integrations.registry import CAR_TOPIC, parser_for
from cartback.runtime import Runtime

router = APIRouter(tags=["webhooks"])

# Headers kept with a raw delivery, so that a replay reads it as it came.
_KEPT = {
    "shopify": (
        shopify.TOPIC_HEADER,
        shopify.SHOP_DOMAIN_HEADER,
        shopify.WEBHOOK_ID_HEADER,
        shopify.EVENT_ID_HEADER,
        shopify.TRIGGERED_AT_HEADER,
        shopify.API_VERSION_HEADER,
    ),
    "woocommerce": (
        woocommerce.TOPIC_HEADER,
        woocommerce.SOURCE_HEADER,
        woocommerce.DELIVERY_HEADER,
        woocommerce.WEBHOOK_ID_HEADER,
    ),
    "generic": (),
    "magento": (),
}
_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "generic-webhook.v1.json"


def _generic_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(_SCHEMA.read_text(encoding="utf-8"))
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    return schema


@router.post(
    "/webhooks/shopify",
    summary="Shopify webhook",
    responses={
        401: {"description": "bad or missing signature"},
        404: {"description": "unknown shop"},
    },
)
async def shopify_webhook(request: Request, rt: RuntimeDep) -> JSONResponse:
    domain = request.headers.get(shopify.SHOP_DOMAIN_HEADER, "")
    store = rt.settings.store_by_shop_domain(domain)
    if store is None or store.platform != "shopify" or store.webhook_secret is None:
        return _error(404, f"no shopify store is configured for shop domain {domain!r}")
    body = await request.body()
    if not shopify.verify(body, request.headers.get(shopify.HMAC_HEADER), _secret(store)):
        return _error(401, f"the {shopify.HMAC_HEADER} signature does not match this body")
    topic = request.headers.get(shopify.TOPIC_HEADER, "")
    key = request.headers.get(shopify.WEBHOOK_ID_HEADER)
    return _answer(await _ingest(rt, store, request, body, topic, key))


@router.post(
    "/webhooks/woocommerce/{store_id}",
    summary="WooCommerce order webhook",
    responses={
        401: {"description": "bad or missing signature"},
        404: {"description": "unknown store"},
    },
)
async def woocommerce_webhook(store_id: str, request: Request, rt: RuntimeDep) -> JSONResponse:
    store = _store(rt, store_id, "woocommerce")
    if store is None:
        return _error(404, f"no woocommerce store {store_id!r} is configured")
    body = await request.body()
    signature = request.headers.get(woocommerce.SIGNATURE_HEADER)
    if signature is None and woocommerce.is_ping(body, request.headers.get("content-type")):
        return JSONResponse({"status": "ping"})  # sent once when the webhook is created
    if not woocommerce.verify(body, signature, _secret(store)):
        return _error(401, f"the {woocommerce.SIGNATURE_HEADER} signature does not match this body")
    topic = request.headers.get(woocommerce.TOPIC_HEADER, "")
    key = woocommerce.delivery_key(request.headers, body)
    return _answer(await _ingest(rt, store, request, body, topic, key))


@router.post(
    "/webhooks/woocommerce/{store_id}/cart-abandonment",
    summary="The WooCommerce Cart Abandonment Recovery plugin's webhook",
    description="Point the plugin's Webhook URL here with `?token=` from `cartback tokens`.",
)
async def woocommerce_car_webhook(
    store_id: str, request: Request, rt: RuntimeDep, token: str = ""
) -> JSONResponse:
    store = _store(rt, store_id, "woocommerce")
    if store is None:
        return _error(404, f"no woocommerce store {store_id!r} is configured")
    if not woocommerce_cart_recovery.verify_url_token(token, _secret(store), store.id):
        return _error(401, "the token in the webhook URL does not match this store")
    body = await request.body()
    key = "car:" + hashlib.sha256(body).hexdigest()  # the plugin sends no id; same body, same cart
    result = await _ingest(rt, store, request, body, CAR_TOPIC, key)
    if result.outcome == Outcome.FAILED:
        return _answer(result)
    return JSONResponse({"status": "success", "delivery_id": result.delivery_id})


@router.post(
    "/webhooks/generic/{store_id}",
    summary="Generic webhook (custom shops, Zapier, Make)",
    description=(
        "JSON (or the same fields form-encoded) per the schema below, version "
        f"{generic.SCHEMA_VERSION}. Sign with `{generic.SIGNATURE_HEADER}: t=<unix time>,"
        'v1=<hex HMAC-SHA256 of "<t>.<body>">`; deliveries older than 5 minutes are refused.'
    ),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": _generic_schema()},
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
            }
        }
    },
)
async def generic_webhook(store_id: str, request: Request, rt: RuntimeDep) -> JSONResponse:
    store = _store(rt, store_id, "generic")
    if store is None:
        return _error(404, f"no generic store {store_id!r} is configured")
    body = await request.body()
    if not store.insecure:
        header = request.headers.get(generic.SIGNATURE_HEADER)
        verdict = generic.verify(body, header, _secret(store), rt.clock.now())
        if not verdict.ok:
            return _error(401, str(verdict))
    try:
        key: str | None = generic.delivery_key(body, request.headers.get("content-type"))
    except ValueError:
        key = None  # stored anyway; the parse names the problem
    return _answer(await _ingest(rt, store, request, body, "event", key))


@router.post(
    "/webhooks/magento/{store_id}",
    summary="Adobe Commerce webhook (checkout_cart_save_after, sales_order_place_after)",
)
async def magento_webhook(store_id: str, request: Request, rt: RuntimeDep) -> JSONResponse:
    store = _store(rt, store_id, "magento")
    if store is None:
        return _error(404, f"no magento store {store_id!r} is configured")
    body = await request.body()
    if store.webhook_public_key:
        signature = request.headers.get(magento.SIGNATURE_HEADER)
        if not magento.verify_webhook(body, signature, store.webhook_public_key):
            return _error(401, f"the {magento.SIGNATURE_HEADER} signature does not match this body")
    elif not store.insecure:
        return _error(401, "set webhook_public_key (or insecure: true) to accept Commerce webhooks")
    topic = _event_name(body)
    key = "webhook:" + hashlib.sha256(body).hexdigest()
    result = await _ingest(rt, store, request, body, topic, key)
    if result.outcome == Outcome.FAILED:
        return _answer(result)
    # Commerce webhooks are synchronous: anything but success would block the shopper.
    return JSONResponse({"op": "success"})


async def _ingest(
    rt: Runtime,
    store: StoreConfig,
    request: Request,
    body: bytes,
    topic: str,
    key: str | None,
) -> IngestResult:
    headers = _kept(store.platform, request.headers)
    delivery = Delivery(store.platform, store.id, topic, key, headers, body)
    parse = parser_for(store, store.platform, topic, headers)
    return await run_in_threadpool(rt.ingest.receive, delivery, parse)


def _kept(platform: str, headers: Mapping[str, str]) -> dict[str, str]:
    names = (*_KEPT.get(platform, ()), "Content-Type")
    return {name: value for name in names if (value := headers.get(name)) is not None}


def _store(rt: Runtime, store_id: str, platform: str) -> StoreConfig | None:
    store = rt.settings.store(store_id)
    return store if store is not None and store.platform == platform else None


def _secret(store: StoreConfig) -> str:
    return store.webhook_secret.get_secret_value() if store.webhook_secret is not None else ""


def _event_name(body: bytes) -> str:
    try:
        name = json.loads(body).get("eventName")
    except (ValueError, AttributeError):
        return "webhook"
    return name if isinstance(name, str) else "webhook"


def _answer(result: IngestResult) -> JSONResponse:
    if result.outcome == Outcome.FAILED:
        return JSONResponse(
            status_code=400,
            content={"error": result.error, "delivery_id": result.delivery_id, "stored": True},
        )
    return JSONResponse(
        {"status": str(result.outcome), "delivery_id": result.delivery_id, "events": result.events}
    )


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message})
