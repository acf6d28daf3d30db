"""A fake Shopify GraphQL Admin API that answers the way Shopify does, with its cost throttle.

Serves `POST /admin/api/{version}/graphql.json`. Use it as `httpx.MockTransport(fake.handle)`.

- Auth: `X-Shopify-Access-Token` must match, else 401 with Shopify's string `errors`.
- Cost: a leaky bucket (`maximum`, `restore_rate` per second, `available`) refilled on the
  `timer` it shares with the client. A request whose cost is above what is available is not run:
  HTTP 200 with a `THROTTLED` error (`throttled` counts them). Every answer carries
  `extensions.cost` {requestedQueryCost, actualQueryCost, throttleStatus}. Costs follow Shopify's
  rule (an object 1 point, a connection 2 + its `first`): a discount or webhook mutation 10, a
  `nodes` lookup 1 + 6 per customer + 13 per product, a `webhookSubscriptions` page 2 + `first`.
- `discountCodeBasicCreate`, answered as `userErrors` in an HTTP 200 answer for: a blank code or
  title, a code that already exists (case-insensitive; `TAKEN`, "Code must be unique. Please try
  a different code."), `endsAt` not after `startsAt`, a value that is not exactly one of a
  percentage in (0, 1] and a positive amount, a `usageLimit` below 1, and neither `context` nor
  `customerSelection`. `discounts` records what was created, by code.
- Customers and products (`customers`, `products`, by numeric id) for `nodes(ids:)`, and webhook
  subscriptions with their queries and mutations: see `tests.fakes.shopify_admin_data`.
- Programmed failures, consumed one per request in order: `throttle_next()` (HTTP 429),
  `throttle_next(graphql=True)` (HTTP 200 with a `THROTTLED` error and the cost extension),
  `fail_next(status)`, `timeout_next()`.
- `operations` names each answered request's root field, in order.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from tests.fakes.shopify_admin_data import AdminData, Answer

TAKEN_MESSAGE = "Code must be unique. Please try a different code."
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_INPUT = "basicCodeDiscount"


class FakeTimer:
    """Monotonic seconds that only move when someone sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


@dataclass
class _Failure:
    kind: str  # "http", "throttled", "timeout"
    status: int = 500


@dataclass
class FakeShopifyAdmin(AdminData):
    shop_domain: str = "acme.myshopify.com"
    access_token: str = "shpat_fake_0123456789abcdef0123456789ab"
    api_version: str = "2026-04"
    existing_codes: set[str] = field(default_factory=set)
    discounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> input + id
    requests: list[httpx.Request] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    timer: FakeTimer = field(default_factory=FakeTimer)
    maximum: float = 2000.0
    restore_rate: float = 100.0
    available: float = 2000.0
    throttled: int = 0
    _restored_at: float | None = None
    _failures: deque[_Failure] = field(default_factory=deque)

    # -- programming -----------------------------------------------------------------------

    def throttle_next(self, *, graphql: bool = False) -> None:
        self._failures.append(_Failure("throttled" if graphql else "http", 429))

    def fail_next(self, status: int = 500) -> None:
        self._failures.append(_Failure("http", status))

    def timeout_next(self) -> None:
        self._failures.append(_Failure("timeout"))

    @property
    def path(self) -> str:
        return f"/admin/api/{self.api_version}/graphql.json"

    @property
    def last_body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.requests[-1].content)
        return body

    def count(self, operation: str) -> int:
        return self.operations.count(operation)

    # -- the transport ---------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method != "POST" or request.url.path != self.path:
            return httpx.Response(404, json={"errors": "Not Found"})
        if request.headers.get("X-Shopify-Access-Token") != self.access_token:
            return httpx.Response(401, json={"errors": INVALID_TOKEN})
        if self._failures:
            return self._fail(request, self._failures.popleft())
        try:
            body = json.loads(request.content)
        except ValueError:
            return httpx.Response(400, json={"errors": "Bad Request"})
        query = str(body.get("query", ""))
        variables = body.get("variables") or {}
        answer = self._answer(query, variables)
        if answer is None:
            return _graphql_error("This fake does not answer that query")
        return self._charged(answer)

    def _answer(self, query: str, variables: dict[str, Any]) -> Answer | None:
        if "discountCodeBasicCreate" in query:
            return Answer("discountCodeBasicCreate", 10, lambda: self._create(variables))
        return self.answer(query, variables)

    def _charged(self, answer: Answer) -> httpx.Response:
        self._restore()
        if answer.cost > self.available:
            self.throttled += 1
            body = throttled_body(answer.cost, self.available, self.maximum, self.restore_rate)
            return httpx.Response(200, json=body)
        self.available -= answer.cost
        self.operations.append(answer.operation)
        data = answer.run()
        extensions = _cost(answer.cost, self.available, self.maximum, self.restore_rate)
        body: dict[str, Any] = {"extensions": extensions}
        body.update(data if "errors" in data else {"data": data})
        return httpx.Response(200, json=body)

    def _restore(self) -> None:
        now = self.timer.monotonic()
        if self._restored_at is not None:
            refill = (now - self._restored_at) * self.restore_rate
            self.available = min(self.maximum, self.available + refill)
        self._restored_at = now

    def _fail(self, request: httpx.Request, failure: _Failure) -> httpx.Response:
        if failure.kind == "timeout":
            raise httpx.ReadTimeout("fake read timeout", request=request)
        if failure.kind == "throttled":
            return httpx.Response(200, json=throttled_body(10, 4.0, 2000.0, 100.0))
        if failure.status == 429:
            return httpx.Response(429, json={"errors": "Throttled"}, headers={"Retry-After": "2.0"})
        return httpx.Response(failure.status, json={"errors": "Internal Server Error"})

    # -- discounts -------------------------------------------------------------------------

    def _create(self, variables: dict[str, Any]) -> dict[str, Any]:
        discount = variables.get(_INPUT)
        if not isinstance(discount, dict):
            message = f"Variable ${_INPUT} of type DiscountCodeBasicInput! was null"
            return {"errors": [{"message": message, "locations": []}]}
        errors = self._user_errors(discount)
        if errors:
            payload: dict[str, Any] = {"codeDiscountNode": None, "userErrors": errors}
        else:
            node_id = f"gid://shopify/DiscountCodeNode/{1000 + len(self.discounts)}"
            code = str(discount["code"])
            self.discounts[code] = {**discount, "id": node_id}
            payload = {"codeDiscountNode": _node(node_id, code), "userErrors": []}
        return {"discountCodeBasicCreate": payload}

    def _user_errors(self, discount: dict[str, Any]) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = []
        code = str(discount.get("code") or "").strip()
        taken = {c.upper() for c in self.existing_codes} | {c.upper() for c in self.discounts}
        if not code:
            errors.append(user_error(["code"], "BLANK", "Code can't be blank"))
        elif code.upper() in taken:
            errors.append(user_error(["code"], "TAKEN", TAKEN_MESSAGE))
        if not str(discount.get("title") or "").strip():
            errors.append(user_error(["title"], "BLANK", "Title can't be blank"))
        errors += _date_errors(discount)
        errors += _value_errors(discount.get("customerGets"))
        if "context" not in discount and "customerSelection" not in discount:
            errors.append(user_error(["context"], "BLANK", "Context can't be blank"))
        limit = discount.get("usageLimit")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            errors.append(
                user_error(["usageLimit"], "GREATER_THAN", "Usage limit must be greater than 0")
            )
        return errors


def user_error(path: list[str], code: str, message: str) -> dict[str, Any]:
    """One `DiscountUserError`; `field` is the path from the mutation's argument."""
    return {"field": [_INPUT, *path], "code": code, "message": message}


def throttled_body(
    requested: float, available: float, maximum: float, restore_rate: float
) -> dict[str, Any]:
    """Shopify's answer when the query cost bucket cannot hold the query (HTTP 200)."""
    return {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/limits#rate-limits",
                },
            }
        ],
        "extensions": _cost(requested, available, maximum, restore_rate, actual=None),
    }


def _date_errors(discount: dict[str, Any]) -> list[dict[str, Any]]:
    starts = _parse_time(discount.get("startsAt"))
    if starts is None:
        return [user_error(["startsAt"], "BLANK", "Starts at can't be blank")]
    ends = _parse_time(discount.get("endsAt"))
    if discount.get("endsAt") is not None and (ends is None or ends <= starts):
        message = "Ends at needs to be after starts_at"
        return [user_error(["endsAt"], "END_DATE_BEFORE_START_DATE", message)]
    return []


def _value_errors(gets: object) -> list[dict[str, Any]]:
    value = gets.get("value") if isinstance(gets, dict) else None
    path = ["customerGets", "value"]
    if not isinstance(value, dict) or len(value) != 1:
        return [user_error(path, "INVALID", "Value must have exactly one discount type")]
    if "percentage" in value:
        percentage = value["percentage"]
        if not isinstance(percentage, int | float) or not 0 < percentage <= 1:
            message = "Percentage must be between 0 and 1"
            return [user_error([*path, "percentage"], "VALUE_OUTSIDE_RANGE", message)]
        return []
    amount = value.get("discountAmount", {}).get("amount") if "discountAmount" in value else None
    try:
        valid = amount is not None and Decimal(str(amount)) > 0
    except InvalidOperation:
        valid = False
    if not valid:
        message = "Amount must be greater than 0"
        return [user_error([*path, "discountAmount", "amount"], "GREATER_THAN", message)]
    return []


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _node(node_id: str, code: str) -> dict[str, Any]:
    return {"id": node_id, "codeDiscount": {"codes": {"nodes": [{"code": code}]}}}


def _cost(
    requested: float,
    available: float,
    maximum: float,
    restore_rate: float,
    actual: float | None = -1,
) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested if actual == -1 else actual,
            "throttleStatus": {
                "maximumAvailable": maximum,
                "currentlyAvailable": available,
                "restoreRate": restore_rate,
            },
        }
    }


def _graphql_error(message: str) -> httpx.Response:
    return httpx.Response(200, json={"errors": [{"message": message, "locations": []}]})
