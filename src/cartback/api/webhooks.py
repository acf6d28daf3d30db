"""Shop webhooks: one handler serves every platform in the registry, each on its own route.

Verify first (nothing is stored for a bad signature), then store the raw delivery, then parse
it. Every platform ends in the same ingest service, and a stored delivery is read again by the
same parser when it is replayed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from cartback.api.deps import RuntimeDep
from cartback.domain.bounds import LENGTHS, text_problem
from cartback.engine.ingest import Delivery, IngestResult, Outcome
from cartback.errors import BadSignature, InvalidRequest, UnreadableBody
from cartback.integrations.platform import Accepted, Platform, ShopStore, WebhookRequest
from cartback.integrations.registry import PLATFORMS, Registry
from cartback.runtime import Runtime

_STORE_ID = "{store_id}"


def router(platforms: Registry = PLATFORMS) -> APIRouter:
    """A route per platform, all served by `receive`."""
    routes = APIRouter(tags=["webhooks"])
    for platform in platforms:
        routes.add_api_route(
            platform.path,
            _endpoint(platform, platforms),
            methods=["POST"],
            name=platform.route_name or f"{platform.name}_webhook",
            summary=platform.summary or f"{platform.name} webhook",
            description=platform.description or "",
            responses=platform.responses,
            openapi_extra=platform.openapi_extra,
        )
    return routes


def _endpoint(platform: Platform, platforms: Registry) -> Callable[..., Awaitable[JSONResponse]]:
    if _STORE_ID in platform.path:

        async def by_store_id(store_id: str, request: Request, rt: RuntimeDep) -> JSONResponse:
            return await receive(platform, platforms, request, rt, store_id)

        return by_store_id

    async def by_headers(request: Request, rt: RuntimeDep) -> JSONResponse:
        return await receive(platform, platforms, request, rt, None)

    return by_headers


async def receive(
    platform: Platform, platforms: Registry, request: Request, rt: Runtime, store_id: str | None
) -> JSONResponse:
    body = await request.body()
    incoming = WebhookRequest(body, request.headers, dict(request.query_params), store_id)
    store = platform.find_store(incoming, rt.settings)
    ping = platform.ping(incoming)
    if ping is not None:
        return JSONResponse(ping)
    verdict = platform.verify(incoming, store, rt.clock.now())
    if not verdict.ok:
        raise BadSignature(verdict.reason)
    result = await _ingest(rt, platform, platforms, store, incoming)
    if result.outcome == Outcome.FAILED:
        extra = {"delivery_id": result.delivery_id, "stored": True}
        raise UnreadableBody(result.error or "the body cannot be read", extra=extra)
    accepted = Accepted(str(result.outcome), result.delivery_id, result.events)
    return JSONResponse(platform.answer(accepted))


async def _ingest(
    rt: Runtime, platform: Platform, platforms: Registry, store: ShopStore, incoming: WebhookRequest
) -> IngestResult:
    names = (*platform.kept_headers, "Content-Type")
    headers = {name: value for name in names if (value := incoming.header(name)) is not None}
    topic = _topic(platform.topic(incoming))
    key = _storable_key(platform.delivery_key(incoming))
    delivery = Delivery(platform.serves, store.id, topic, key, headers, incoming.body)
    parse = platforms.parser_for(store, platform.serves, topic, headers)
    return await run_in_threadpool(rt.ingest.receive, delivery, parse)


def _topic(topic: str | None) -> str | None:
    """A topic that fits its column; another is refused before anything is stored."""
    problem = None if topic is None else text_problem(topic, LENGTHS["topic"])
    if problem is not None:
        raise InvalidRequest(f"the webhook's topic {problem}", status=400)
    return topic


def _storable_key(key: str | None) -> str | None:
    """A delivery key that fits its column. One built from a hostile body (a 300-digit id) is
    kept as its hash: it still deduplicates, and the body is stored to fail where it is read."""
    if key is None or text_problem(key, LENGTHS["delivery key"]) is None:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest}"
