"""A ceiling on request bodies, so a flood of bytes cannot exhaust the server's memory."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cartback.errors import BodyTooLarge

MAX_BODY = 5 * 1024 * 1024  # far above any real shop's webhook


def too_large(limit: int = MAX_BODY) -> BodyTooLarge:
    return BodyTooLarge(f"the request body is larger than {limit // (1024 * 1024)} MiB")


class BodyLimit:
    """Refuse bodies over `limit` bytes: at once when Content-Length says so, else while reading."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            refused = too_large(self.limit)
            answer = JSONResponse(refused.body(), status_code=refused.http_status)
            await answer(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise too_large(self.limit)
            return message

        await self.app(scope, counted, send)
