"""One transport for Shopify's GraphQL Admin API: discounts, enrichment and `connect` share it.

- `POST {base_url}/admin/api/{API_VERSION}/graphql.json`, JSON `{"query", "variables"}`, the token
  in `X-Shopify-Access-Token`. `base_url` defaults to `https://{shop_domain}`; set it for a proxy
  or a local fake.
- Rate limits are by query cost, from a leaky bucket per app and shop. Every answer reports it in
  `extensions.cost`: `requestedQueryCost`, `actualQueryCost` and `throttleStatus`
  {`maximumAvailable`, `currentlyAvailable`, `restoreRate` (points per second)}. A query whose
  requested cost is above what is available is not run: HTTP 200 with
  `errors: [{message: "Throttled", extensions: {code: "THROTTLED"}}]`. One query may cost at
  most 1,000 points.
- So the client keeps the last bucket it saw, waits before a query that would not fit (through an
  injected timer, so tests never sleep), and retries a `THROTTLED` answer (and HTTP 429) after the
  wait the answer implies. A wait above `max_wait` is not slept: it is raised as
  `AdminUnavailable` with `retry_after`, for the caller to come back later.
- A refused token is HTTP 401 with `{"errors": "[API] Invalid API key or access token ..."}`
  (`errors` is a string there, a list everywhere else).

The access token never appears in an error text or a log line: messages name the shop only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cartback.channels._http import json_body, make_client, perform
from cartback.channels.base import SendStatus

__all__ = [
    "ACCESS_TOKEN_HEADER",
    "API_VERSION",
    "MAX_QUERY_COST",
    "AdminError",
    "AdminGraphQL",
    "AdminUnavailable",
    "AnswerModel",
    "SystemTimer",
    "Timer",
    "UserError",
    "read_answer",
    "user_errors",
]

log = logging.getLogger("cartback.shopify")

API_VERSION = "2026-04"  # the one Admin API version cartback speaks; webhooks use the app's
ACCESS_TOKEN_HEADER = "X-Shopify-Access-Token"  # noqa: S105 (a header name, not a secret)
THROTTLED = "THROTTLED"
MAX_QUERY_COST = 1000  # Shopify refuses a single query that would cost more
MIN_WAIT = 0.001  # seconds; shorter waits are rounding, not throttling

M = TypeVar("M", bound=BaseModel)


class AdminError(Exception):
    """Shopify refused the request or answered something we cannot read; retrying won't help."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AdminUnavailable(AdminError):
    """Shopify could not take the request now (throttled, 5xx, timeout); try again later."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after  # seconds, when known


@dataclass(frozen=True, slots=True)
class UserError:
    """One of a mutation's `userErrors`: the input was refused, in an HTTP 200 answer."""

    field: tuple[str, ...]
    code: str | None
    message: str

    def __str__(self) -> str:
        where = ".".join(self.field)
        return f"{where}: {self.message}" if where else self.message


class Timer(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemTimer:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# --- answers ----------------------------------------------------------------------------------


class AnswerModel(BaseModel):
    """A part of Shopify's answer: unknown fields ignored, read by their GraphQL names."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _GraphQLError(AnswerModel):
    message: str = ""
    extensions: dict[str, Any] = Field(default_factory=dict)

    @property
    def code(self) -> str | None:
        code = self.extensions.get("code")
        return str(code) if code is not None else None


class _ThrottleStatus(AnswerModel):
    maximum: float = Field(alias="maximumAvailable")
    available: float = Field(alias="currentlyAvailable")
    restore_rate: float = Field(alias="restoreRate")


class _Cost(AnswerModel):
    requested: float | None = Field(default=None, alias="requestedQueryCost")
    throttle: _ThrottleStatus | None = Field(default=None, alias="throttleStatus")


class _Extensions(AnswerModel):
    cost: _Cost | None = None


class _Envelope(AnswerModel):
    data: dict[str, Any] | None = None
    errors: list[_GraphQLError] = Field(default_factory=list)
    extensions: _Extensions = Field(default_factory=_Extensions)


# --- the bucket -------------------------------------------------------------------------------


class _Bucket:
    """The last throttle status Shopify reported, refilled at its restore rate since then."""

    def __init__(self) -> None:
        self._status: _ThrottleStatus | None = None
        self._seen_at = 0.0

    def observe(self, status: _ThrottleStatus | None, now: float) -> None:
        if status is not None:
            self._status, self._seen_at = status, now

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until `cost` points are available; 0 when they are or nothing is known."""
        status = self._status
        if status is None or status.restore_rate <= 0:
            return 0.0
        available = min(
            status.maximum, status.available + status.restore_rate * (now - self._seen_at)
        )
        wait = (min(cost, status.maximum) - available) / status.restore_rate
        return wait if wait >= MIN_WAIT else 0.0


# --- the client -------------------------------------------------------------------------------


class AdminGraphQL:
    def __init__(
        self,
        shop_domain: str,
        access_token: str,
        *,
        api_version: str = API_VERSION,
        base_url: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        timer: Timer | None = None,
        max_wait: float = 10.0,
        max_attempts: int = 4,
    ) -> None:
        if not access_token:
            raise ValueError(f"Shopify {shop_domain}: no admin access token configured")
        self.shop_domain = shop_domain
        self.api_version = api_version
        root = (base_url or f"https://{shop_domain}").rstrip("/")
        self.endpoint = f"{root}/admin/api/{api_version}/graphql.json"
        self.timer = timer or SystemTimer()
        self.max_wait = max_wait
        self.max_attempts = max_attempts
        self._token = access_token
        self._http = make_client(timeout=timeout, transport=transport, auth=None)
        self._bucket = _Bucket()

    @property
    def where(self) -> str:
        return f"Shopify {self.shop_domain}"

    def __repr__(self) -> str:  # never the token
        return f"AdminGraphQL(shop_domain={self.shop_domain!r}, api_version={self.api_version!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminGraphQL:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        cost: float = 10,
        scope: str | None = None,
    ) -> dict[str, Any]:
        """Run one query or mutation and return its `data`.

        `cost` is the caller's estimate of the requested query cost, used to wait before
        sending when the bucket would not hold it; `scope` names the access scope the call
        needs, for the error when Shopify answers 403.
        """
        for attempt in range(1, self.max_attempts + 1):
            self._pace(cost)
            data, wait, status = self._attempt(query, variables or {}, scope)
            if data is not None:
                return data
            if attempt == self.max_attempts or wait > self.max_wait:
                raise AdminUnavailable(f"{self.where}: throttled (query cost limit)", status, wait)
            log.info("shopify throttled", extra={"shop": self.shop_domain, "wait_s": wait})
            self.timer.sleep(wait)
        raise AdminUnavailable(f"{self.where}: throttled (query cost limit)")  # max_attempts < 1

    def _pace(self, cost: float) -> None:
        wait = self._bucket.wait_for(cost, self.timer.monotonic())
        if wait <= 0:
            return
        if wait > self.max_wait:
            message = f"{self.where}: the query cost limit needs {wait:.1f}s to allow this query"
            raise AdminUnavailable(message, None, wait)
        log.info("shopify cost pacing", extra={"shop": self.shop_domain, "wait_s": wait})
        self.timer.sleep(wait)

    def _attempt(
        self, query: str, variables: Mapping[str, Any], scope: str | None
    ) -> tuple[dict[str, Any] | None, float, int]:
        """(data, 0, 200) on success; (None, seconds to wait, status) when throttled."""
        request = self._http.build_request(
            "POST",
            self.endpoint,
            json={"query": query, "variables": dict(variables)},
            headers={ACCESS_TOKEN_HEADER: self._token, "Accept": "application/json"},
        )
        outcome = perform(self._http, request)
        if outcome.response is None:
            raise AdminUnavailable(f"{self.where}: {outcome.error}")
        response = outcome.response
        if response.status_code == 429:
            return None, _seconds(response.headers.get("Retry-After")) or 1.0, 429
        if outcome.status is SendStatus.RETRY:
            raise AdminUnavailable(
                f"{self.where}: HTTP {response.status_code}", response.status_code
            )
        if outcome.status is SendStatus.FAILED:
            raise AdminError(_refusal(self.where, response, scope), response.status_code)
        envelope = _read_envelope(self.where, response)
        cost = envelope.extensions.cost
        self._bucket.observe(cost.throttle if cost else None, self.timer.monotonic())
        if any(error.code == THROTTLED for error in envelope.errors):
            return None, _throttle_wait(cost), 200
        if envelope.errors:
            first = envelope.errors[0]
            label = f"{first.code}: " if first.code else ""
            raise AdminError(f"{self.where}: {label}{first.message[:300]}", 200)
        if envelope.data is None:
            raise AdminError(f"{self.where}: the answer has no data", 200)
        return envelope.data, 0.0, 200


def user_errors(payload: Mapping[str, Any]) -> tuple[UserError, ...]:
    """The `userErrors` of a mutation's payload object."""
    found = payload.get("userErrors") or []
    errors: list[UserError] = []
    for error in found if isinstance(found, list) else []:
        if isinstance(error, dict):
            path = error.get("field") or []
            errors.append(
                UserError(
                    tuple(str(part) for part in path) if isinstance(path, list) else (),
                    str(error["code"]) if error.get("code") is not None else None,
                    str(error.get("message") or ""),
                )
            )
    return tuple(errors)


def read_answer(model: type[M], raw: object, where: str) -> M:
    """Shopify's answer (or a part of it) validated into `model`; AdminError naming the path."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(part) for part in error["loc"])
        raise AdminError(f"{where}: unexpected answer at {path}: {error['msg']}") from None


def _read_envelope(where: str, response: httpx.Response) -> _Envelope:
    data = json_body(response)
    if not isinstance(data, dict):
        raise AdminError(f"{where}: the answer is not a JSON object", response.status_code)
    return read_answer(_Envelope, data, where)


def _throttle_wait(cost: _Cost | None) -> float:
    """Seconds until the bucket holds the requested cost, from `extensions.cost`; 1 s when the
    answer does not say."""
    status = cost.throttle if cost else None
    if cost is None or cost.requested is None or status is None or status.restore_rate <= 0:
        return 1.0
    return max(0.0, (cost.requested - status.available) / status.restore_rate)


def _refusal(where: str, response: httpx.Response, scope: str | None) -> str:
    code = response.status_code
    if code == 401:
        return (
            f"{where}: HTTP 401, Shopify refused the admin access token; check the store's "
            "access_token"
        )
    if code == 403:
        needed = f"the {scope} access scope" if scope else "an access scope this call needs"
        return f"{where}: HTTP 403, the app lacks {needed}"
    if code == 402:
        return f"{where}: HTTP 402, the shop is frozen (unpaid plan)"
    if code == 404:
        return f"{where}: HTTP 404, no such shop or API version"
    if code == 423:
        return f"{where}: HTTP 423, the shop is locked"
    return f"{where}: HTTP {code}"


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None
