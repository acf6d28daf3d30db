"""Shop webhooks: one handler serves every platform in the registry, each on its own route.

Verify first (nothing is stored for a bad signature), then store the raw delivery and answer:
that is all a webhook waits for. The delivery is parsed and applied after the answer, by the
delivery queue (`engine/delivery_queue.py`), with the same parser a replay uses. A body that is
not a JSON object at all is answered 400 and kept as failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from cartback.api.deps import runtime_of
from cartback.domain.bounds import LENGTHS, text_problem
from cartback.engine.delivery_queue import DeliveryQueue
from cartback.engine.ingest import Delivery
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
            _endpoint(platform),
            methods=["POST"],
            name=platform.route_name or f"{platform.name}_webhook",
            summary=platform.summary or f"{platform.name} webhook",
            description=platform.description or "",
            responses=platform.responses,
            openapi_extra=platform.openapi_extra,
        )
    return routes


def asgi_routes(platforms: Registry = PLATFORMS) -> list[Route]:
    """The routes that answer the webhooks, to be placed before `router()`'s (which stay for
    the OpenAPI description). Each is a bare ASGI app: no dependency solving, no request model,
    no wrapper per route. An error raised while answering goes the same way as from any route,
    to the app's exception handlers, and so keeps its shape."""
    return [
        Route(platform.path, _Webhook(platform), methods=["POST"], include_in_schema=False)
        for platform in platforms
    ]


class _Webhook:
    """One platform's webhook as an ASGI app."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        store_id = scope.get("path_params", {}).get("store_id")
        answer = await receive_webhook(self.platform, request, runtime_of(request), store_id)
        await answer(scope, receive, send)


def _endpoint(platform: Platform) -> Callable[..., Awaitable[JSONResponse]]:
    """The route's function: what the OpenAPI description tells of, and what answers in an app
    without `asgi_routes` (both give the same answers)."""
    if _STORE_ID in platform.path:

        async def by_store_id(store_id: str, request: Request) -> JSONResponse:
            return await receive_webhook(platform, request, runtime_of(request), store_id)

        return by_store_id

    async def by_headers(request: Request) -> JSONResponse:
        return await receive_webhook(platform, request, runtime_of(request), None)

    return by_headers


def _headers(request: Request) -> dict[str, str]:
    """The headers, decoded once: a platform looks several up, and each look-up in Starlette's
    `Headers` decodes them all again. Names come lower-case (ASGI); a repeated one keeps its
    first value, as `Headers` gives it."""
    decoded: dict[str, str] = {}
    for name, value in request.scope["headers"]:
        decoded.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return decoded


def _query(request: Request) -> dict[str, str]:
    """The query's parameters; most webhooks have none, and then nothing is parsed."""
    return dict(request.query_params) if request.scope.get("query_string") else {}


async def receive_webhook(
    platform: Platform, request: Request, rt: Runtime, store_id: str | None
) -> JSONResponse:
    body = await request.body()
    incoming = WebhookRequest(body, _headers(request), _query(request), store_id)
    store = platform.find_store(incoming, rt.settings)
    ping = platform.ping(incoming)
    if ping is not None:
        return JSONResponse(ping)
    verdict = platform.verify(incoming, store, rt.clock.now())
    if not verdict.ok:
        raise BadSignature(verdict.reason)
    delivery, problem = _delivery(platform, store, incoming)
    if problem is not None:
        delivery_id = await run_in_threadpool(rt.ingest.refuse, delivery, problem)
        raise UnreadableBody(problem, extra={"delivery_id": delivery_id, "stored": True})
    recorded = await rt.recorder.record(delivery)
    status = "duplicate" if recorded.duplicate else "received"
    answer = _Answer(platform.answer(Accepted(status, recorded.delivery_id)))
    if rt.apply_after_answer and not recorded.duplicate:
        # Applied once the answer is sent (a test client waits for it: deterministic there).
        answer.background = BackgroundTask(_apply_received, rt.deliveries)
    return answer


class _Answer(JSONResponse):
    """A webhook's answer, rendered by orjson: the same compact UTF-8 JSON as Starlette's
    `json.dumps` with its separators, in a few microseconds less of every webhook."""

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


async def _apply_received(queue: DeliveryQueue) -> None:
    if not queue.running_asked_again():
        await run_in_threadpool(queue.drain)


def _delivery(
    platform: Platform, store: ShopStore, incoming: WebhookRequest
) -> tuple[Delivery, str | None]:
    """The delivery to store, and the problem that makes its body unreadable, if any."""
    names = (*platform.kept_headers, "Content-Type")
    headers = {name: value for name in names if (value := incoming.header(name)) is not None}
    topic = _topic(platform.topic(incoming))
    key = _storable_key(platform.delivery_key(incoming))
    try:
        sequence, problem = _storable_key(platform.sequence_key(incoming)), None
    except UnreadableBody as unreadable:
        sequence, problem = None, unreadable.message
    delivery = Delivery(platform.serves, store.id, topic, key, headers, incoming.body, sequence)
    return delivery, problem


def _topic(topic: str | None) -> str | None:
    """A topic that fits its column; another is refused before anything is stored."""
    problem = None if topic is None else text_problem(topic, LENGTHS["topic"])
    if problem is not None:
        raise InvalidRequest(f"the webhook's topic {problem}", status=400)
    return topic


def _storable_key(key: str | None) -> str | None:
    """A delivery (or sequence) key that fits its column. One built from a hostile body (a
    300-digit id) is kept as its hash: it still deduplicates (or orders), and the body is stored
    to fail where it is read."""
    if key is None or text_problem(key, LENGTHS["delivery key"]) is None:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest}"
