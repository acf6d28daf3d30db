"""The shop webhooks answered on a shorter path through the app than every other route.

A webhook is the one request a server gets thousands of a minute, and the framework's layers
cost it as much CPU as the signature's check and the body's parsing together. `WebhookApp`
answers a POST that one of the webhook routes takes wholly through a chain built from the
app's own parts, in the order the app stacks them:

- Starlette's `ServerErrorMiddleware` with the app's handler for unexpected errors (a 500 in
  the one error shape, the exception raised on to the server's log);
- the app's own middleware (request id, access log, body limit), as added to it;
- Starlette's `ExceptionMiddleware` with the app's exception handlers;
- the route's endpoint.

What it passes by: FastAPI's layers that a webhook has no use for (its body limit, which the
app leaves unset and enforces itself, its exit stack for uploaded files) and the router's walk
through every route. Anything else, a wrong method or an unknown path included, goes the whole
way and gets the same answer as before. When FastAPI's own OpenTelemetry is configured, every
request goes the whole way, so that each webhook keeps its span (from the second after it is
configured).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

_TRACING_CHECKED_EVERY = 1.0  # seconds


class WebhookApp(FastAPI):
    """FastAPI, with the routes `shorten(...)` names answered on the short path."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.short_routes: Sequence[BaseRoute] = ()
        self.short_path = True  # False: every request the whole way (tests compare the two)
        self._short: ASGIApp | None = None
        self._tracing = False
        self._traced_until = float("-inf")

    def shorten(self, routes: Sequence[BaseRoute]) -> None:
        """Answer these routes (already among the app's) on the short path."""
        self.short_routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.short_path and not self._traced():
            for route in self.short_routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    scope["app"] = self
                    scope.setdefault("router", self.router)
                    if self._short is None:
                        self._short = self._build_short()
                    await self._short(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    def _traced(self) -> bool:
        """Whether FastAPI's own telemetry (OpenTelemetry) is configured (versions without it
        have none to keep). Asked again once a second, not at every webhook: the question reads
        the environment for three providers, a twentieth of the short path's CPU."""
        now = time.monotonic()
        if now >= self._traced_until:
            telemetry = getattr(self, "_native_telemetry", None)
            self._tracing = telemetry is not None and bool(telemetry.enabled())
            self._traced_until = now + _TRACING_CHECKED_EVERY
        return self._tracing

    def _build_short(self) -> ASGIApp:
        unexpected = None
        handlers: dict[Any, Any] = {}
        for key, handler in self.exception_handlers.items():
            if key in (500, Exception):
                unexpected = handler
            else:
                handlers[key] = handler
        app: ASGIApp = ExceptionMiddleware(_endpoint, handlers=handlers, debug=self.debug)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return ServerErrorMiddleware(app, handler=unexpected, debug=self.debug)


async def _endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """The matched route's endpoint: an ASGI app (see `webhooks.asgi_routes`)."""
    await scope["endpoint"](scope, receive, send)
