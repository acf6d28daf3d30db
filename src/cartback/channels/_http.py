"""One HTTP call to a gateway, timed and classified; shared by the inMobile and Twilio gateways.

A gateway makes exactly one attempt per `send`: the engine retries with backoff and keeps a row
per attempt. This module only says what the attempt came to:

- no answer (timeout, connection error), 5xx or 429: `SendStatus.RETRY`;
- any other 4xx (and 3xx, which no gateway API answers on purpose): `SendStatus.FAILED`;
- 2xx: `SendStatus.SENT`, with the response for the gateway to read.

Error texts name the failure class, never the URL (Twilio's carries the account SID) or
credentials; vendor texts pass through `scrub_numbers` before they are kept.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from cartback.channels.base import SendStatus
from cartback.domain.redact import mask_phone

_PHONE_LIKE = re.compile(r"\+?\d[\d \-().]{5,}\d")
_MAX_REASON_LENGTH = 300


class GatewayAnswerError(ValueError):
    """A gateway's JSON or form body that does not have the documented shape."""


class GatewayUnavailable(RuntimeError):
    """A read from a gateway (e.g. polling inbound messages) that got no usable answer."""


@dataclass(frozen=True, slots=True)
class HttpOutcome:
    """What one call came to. `response` is set whenever the gateway answered at all."""

    status: SendStatus
    duration_ms: int
    http_status: int | None = None
    response: httpx.Response | None = None
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.response is not None


def make_client(
    *, timeout: float, transport: httpx.BaseTransport | None, auth: httpx.Auth | None
) -> httpx.Client:
    """A client that never follows redirects: a gateway API redirecting us is a failure."""
    return httpx.Client(timeout=timeout, transport=transport, auth=auth, follow_redirects=False)


def perform(client: httpx.Client, request: httpx.Request) -> HttpOutcome:
    """Send `request` once and classify the outcome; never raises for network trouble."""
    started = time.perf_counter()
    try:
        response = client.send(request)
        response.read()
    except httpx.TimeoutException as exc:
        return HttpOutcome(SendStatus.RETRY, _elapsed_ms(started), error=_failure("timeout", exc))
    except httpx.TransportError as exc:
        return HttpOutcome(
            SendStatus.RETRY, _elapsed_ms(started), error=_failure("connection error", exc)
        )
    return classify(response, _elapsed_ms(started))


def classify(response: httpx.Response, duration_ms: int) -> HttpOutcome:
    code = response.status_code
    if 200 <= code < 300:
        status = SendStatus.SENT
        error = None
    elif code >= 500 or code == 429:
        status = SendStatus.RETRY
        error = f"gateway answered HTTP {code}"
    else:
        status = SendStatus.FAILED
        error = f"gateway refused with HTTP {code}"
    return HttpOutcome(status, duration_ms, http_status=code, response=response, error=error)


def json_body(response: httpx.Response) -> Any:
    """The parsed JSON of an answer, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def scrub_numbers(text: str) -> str:
    """Mask anything in a vendor's text that looks like a phone number; cap the length."""
    masked = _PHONE_LIKE.sub(_mask_match, text)
    return masked[:_MAX_REASON_LENGTH]


def _mask_match(match: re.Match[str]) -> str:
    raw = match.group(0)
    digits = "".join(char for char in raw if char.isdigit())
    if len(digits) < 5:
        return raw
    return mask_phone("+" + digits) or "***"


def _failure(kind: str, exc: Exception) -> str:
    return f"{kind} ({type(exc).__name__})"


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
