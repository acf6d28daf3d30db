"""Every request gets an id, and every webhook answer is counted by platform and status.

The id comes from the caller's `X-Request-Id` when it is a short plain token (a proxy's), else it
is made here; it is in every log line written while the request is answered and is sent back
as `X-Request-Id`, so a line in the log and an answer a shop owner saw can be matched.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cartback import logs
from cartback.metrics import Metrics

_GIVEN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_WEBHOOKS = "/webhooks/"
# A made id is this process's random prefix and a counter (32 hex digits in all): unique
# like a random one, without asking the kernel for randomness on every request.
_PREFIX = os.urandom(8).hex()
_NUMBERS = itertools.count(1)


class RequestContext:
    """ASGI middleware; `platforms`: the names that may appear as a webhook metric's label."""

    def __init__(self, app: ASGIApp, metrics: Metrics, platforms: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.platforms = platforms
        # platform and status → the counter's `inc`: a label look-up takes a lock each time
        self._counters: dict[tuple[str, int], Callable[[], None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        header = (b"x-request-id", rid.encode())
        status = 500

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        token = logs.request_id.set(rid)
        try:
            await self.app(scope, receive, answer)
        finally:
            logs.request_id.reset(token)
            self._count(str(scope.get("path", "")), status)

    def _count(self, path: str, status: int) -> None:
        if path.startswith(_WEBHOOKS):
            name = path[len(_WEBHOOKS) :].split("/", 1)[0]
            label = (name if name in self.platforms else "other", status)
            count = self._counters.get(label)
            if count is None:
                count = self._counters[label] = self.metrics.counter_of_webhooks(*label)
            count()


def _request_id(scope: Scope) -> str:
    for key, value in scope.get("headers") or []:
        if key == b"x-request-id":
            given = bytes(value).decode("latin-1")
            if _GIVEN.fullmatch(given):
                return given
    return f"{_PREFIX}{next(_NUMBERS):016x}"
