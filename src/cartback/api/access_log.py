"""One log line for each webhook answered with anything but 2xx: the store and the reason.

A shop owner whose webhooks are refused sees why in the server's log (`reason=wrong signature
store=acme`) without opening the shop's delivery history. The line holds the status, the path
(never the query, which may carry a token), the store, the reason and the answer's error code:
never the request body, a header value other than the shop's domain, or any personal data.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("cartback.access")

_WATCHED = "/webhooks/"
_KEEP_BYTES = 4096  # error answers are small; a large one is not read for its code
_STORE_IN_PATH = ("woocommerce", "generic", "magento")
_SAFE = re.compile(r"[A-Za-z0-9._-]{1,100}")
_REASONS = {
    400: "unreadable body",
    401: "wrong signature",
    403: "forbidden",
    404: "unknown store",
    405: "wrong method",
    413: "body too large",
    415: "unsupported content type",
    422: "invalid request",
    429: "too many requests",
}


class WebhookAccessLog:
    """ASGI middleware; put it outermost so that it sees every answer, 413s included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(_WATCHED):
            await self.app(scope, receive, send)
            return
        status = 0
        body = bytearray()

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and _kept(status, body):
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            _log(scope, 500, b"")
            raise
        if not 200 <= status < 300:
            _log(scope, status, bytes(body))


def _kept(status: int, body: bytearray) -> bool:
    return not 200 <= status < 300 and len(body) <= _KEEP_BYTES


def _log(scope: Scope, status: int, body: bytes) -> None:
    fields: dict[str, Any] = {"status": status, "path": scope.get("path", "")}
    fields.update(_store_of(scope))
    code, delivery_id = _error_code(body)
    reason = _REASONS.get(status, "server error" if status >= 500 else "refused")
    if status == 404 and "shop_domain" in fields:
        reason = "unknown shop"
    fields["reason"] = reason
    if code is not None:
        fields["code"] = code
    if delivery_id is not None:
        fields["delivery_id"] = delivery_id  # stored for replay: `cartback deliveries replay`
    log.warning("webhook answered %s", status, extra=fields)


def _store_of(scope: Scope) -> dict[str, str]:
    parts = str(scope.get("path", "")).strip("/").split("/")
    if len(parts) >= 3 and parts[1] in _STORE_IN_PATH:
        return {"store": _safe(parts[2])}
    if parts[1:2] == ["shopify"]:
        domain = _header(scope, b"x-shopify-shop-domain")
        store = _shopify_store(scope, domain)
        return {"store": store} if store else {"store": "-", "shop_domain": _safe(domain)}
    return {"store": "-"}


def _shopify_store(scope: Scope, domain: str) -> str | None:
    runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
    settings = getattr(runtime, "settings", None)
    store = settings.store_by_shop_domain(domain) if settings is not None and domain else None
    return str(store.id) if store is not None else None


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def _safe(text: str) -> str:
    return text if _SAFE.fullmatch(text) else "?"


def _error_code(body: bytes) -> tuple[str | None, int | None]:
    """The code of `{"error": {"code": ...}}` (none in the older `{"error": "..."}`), and the
    stored delivery's id where the answer gives one."""
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        return None, None
    if not isinstance(answer, dict):
        return None, None
    error, delivery_id = answer.get("error"), answer.get("delivery_id")
    code = error.get("code") if isinstance(error, dict) else None
    code = code if isinstance(code, str) and _SAFE.fullmatch(code) else None
    return code, delivery_id if isinstance(delivery_id, int) else None
