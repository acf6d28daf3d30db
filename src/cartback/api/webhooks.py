"""Webhook endpoints.

Verify first (nothing is stored for a bad signature), then store the raw delivery, then parse.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from cartback.api.deps import RuntimeDep
from cartback.domain.events import Event
from cartback.engine.ingest import Delivery, IngestResult, Outcome
from cartback.integrations import shopify

router = APIRouter(tags=["webhooks"])

# Headers kept with a raw delivery, so that a replay sees what the platform sent.
_KEPT_HEADERS = (
    shopify.TOPIC_HEADER,
    shopify.SHOP_DOMAIN_HEADER,
    shopify.WEBHOOK_ID_HEADER,
    shopify.EVENT_ID_HEADER,
    shopify.TRIGGERED_AT_HEADER,
    shopify.API_VERSION_HEADER,
    "Content-Type",
)


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
    secret = store.webhook_secret.get_secret_value()
    if not shopify.verify(body, request.headers.get(shopify.HMAC_HEADER), secret):
        return _error(401, f"the {shopify.HMAC_HEADER} signature does not match this body")
    topic = request.headers.get(shopify.TOPIC_HEADER, "")
    delivery = Delivery(
        platform="shopify",
        store_id=store.id,
        topic=topic,
        delivery_key=request.headers.get(shopify.WEBHOOK_ID_HEADER),
        headers={k: v for k in _KEPT_HEADERS if (v := request.headers.get(k)) is not None},
        body=body,
    )

    def parse(raw: bytes, received_at: datetime) -> list[Event]:
        return shopify.parse(
            topic,
            raw,
            store_id=store.id,
            default_country=store.default_country,
            received_at=received_at,
        )

    result = await run_in_threadpool(rt.ingest.receive, delivery, parse)
    return _answer(result)


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
