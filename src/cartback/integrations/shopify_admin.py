"""Single-use recovery discount codes, created through Shopify's GraphQL Admin API.

- `POST https://{shop}.myshopify.com/admin/api/{version}/graphql.json`, JSON
  `{"query", "variables"}`, authenticated by the `X-Shopify-Access-Token` header (the app needs
  the `write_discounts` scope).
- `discountCodeBasicCreate(basicCodeDiscount: DiscountCodeBasicInput!)` answers
  `{codeDiscountNode, userErrors: [{field: [String!], code, message}]}`. Refusals (a code that is
  already taken: code `TAKEN`, "Code must be unique. Please try a different code.") are
  `userErrors` in an HTTP 200 answer, not HTTP errors.
- Who may use the code: `context: {all: ALL}` from API version 2025-10 on, where it replaced the
  deprecated `customerSelection: {all: true}`; older versions get `customerSelection`.
- Value: `percentage` is a Float fraction (0.1 is 10 % off); `discountAmount.amount` a Decimal in
  the shop's currency, sent as a string.
- Rate limits are by query cost. A throttled request is HTTP 429, or HTTP 200 with
  `errors: [{message: "Throttled", extensions: {code: "THROTTLED"}}]` and the bucket's state in
  `extensions.cost.throttleStatus` (`currentlyAvailable`, `restoreRate` per second).
- A refused token is HTTP 401 with `{"errors": "[API] Invalid API key or access token ..."}`
  (`errors` is a string there, a list everywhere else).

The access token never appears in an error text: messages name the shop and the failure only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cartback.channels._http import json_body, make_client, perform
from cartback.channels.base import SendStatus

__all__ = [
    "ACCESS_TOKEN_HEADER",
    "CODE_ALPHABET",
    "DEFAULT_API_VERSION",
    "DiscountError",
    "DiscountRejected",
    "DiscountUnavailable",
    "ShopifyAdmin",
    "UserError",
    "make_code",
]

ACCESS_TOKEN_HEADER = "X-Shopify-Access-Token"  # noqa: S105 (a header name, not a secret)
DEFAULT_API_VERSION = "2026-04"
CONTEXT_SINCE_VERSION = "2025-10"  # `context` replaced `customerSelection` in this version
TAKEN = "TAKEN"
THROTTLED = "THROTTLED"

# Upper-case letters and digits without the ones people misread: 0/O, 1/I/L, U/V.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"

CREATE_MUTATION = """
mutation CartbackRecoveryCode($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode {
      id
      codeDiscount {
        ... on DiscountCodeBasic {
          codes(first: 1) { nodes { code } }
        }
      }
    }
    userErrors { field code message }
  }
}
""".strip()


class DiscountError(Exception):
    """Shopify refused the request or answered something we cannot read; retrying won't help."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DiscountUnavailable(DiscountError):
    """Shopify could not take the request now (throttled, 5xx, timeout); try again later."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after  # seconds, when Shopify said how long


@dataclass(frozen=True, slots=True)
class UserError:
    field: tuple[str, ...]
    code: str | None
    message: str

    def __str__(self) -> str:
        where = ".".join(self.field)
        return f"{where}: {self.message}" if where else self.message


class DiscountRejected(DiscountError):
    """Shopify answered with `userErrors`: the input was refused (e.g. the code is taken)."""

    def __init__(self, message: str, user_errors: tuple[UserError, ...]) -> None:
        super().__init__(message, 200)
        self.user_errors = user_errors

    @property
    def code_taken(self) -> bool:
        return any(error.code == TAKEN for error in self.user_errors)


def make_code(prefix: str = "BACK") -> str:
    """An unguessable code people can type from an SMS, e.g. `BACK-7KQ2-M9XD` (about 39 bits)."""
    if not prefix or not prefix.isascii() or not prefix.isalnum():
        raise ValueError("a discount code prefix must be letters and digits")
    groups = ("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(2))
    return "-".join([prefix.upper(), *groups])


# --- answers ----------------------------------------------------------------------------------


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _GraphQLError(_Answer):
    message: str = ""
    extensions: dict[str, Any] = Field(default_factory=dict)

    @property
    def code(self) -> str | None:
        code = self.extensions.get("code")
        return str(code) if code is not None else None


class _Code(_Answer):
    code: str


class _Codes(_Answer):
    nodes: list[_Code] = Field(default_factory=list)


class _CodeDiscount(_Answer):
    codes: _Codes | None = None


class _Node(_Answer):
    id: str
    code_discount: _CodeDiscount | None = Field(default=None, alias="codeDiscount")


class _UserError(_Answer):
    field: list[str] | None = None
    code: str | None = None
    message: str


class _Payload(_Answer):
    code_discount_node: _Node | None = Field(default=None, alias="codeDiscountNode")
    user_errors: list[_UserError] = Field(alias="userErrors")


class _Data(_Answer):
    discount_code_basic_create: _Payload | None = Field(
        default=None, alias="discountCodeBasicCreate"
    )


class _Envelope(_Answer):
    data: _Data | None = None
    errors: list[_GraphQLError] = Field(default_factory=list)
    extensions: dict[str, Any] = Field(default_factory=dict)


# --- the client -------------------------------------------------------------------------------


class ShopifyAdmin:
    def __init__(
        self,
        shop_domain: str,
        access_token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        base_url: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not access_token:
            raise ValueError(f"Shopify {shop_domain}: no admin access token configured")
        self.shop_domain = shop_domain
        self.api_version = api_version
        self.endpoint = (
            f"{(base_url or f'https://{shop_domain}').rstrip('/')}"
            f"/admin/api/{api_version}/graphql.json"
        )
        self._token = access_token
        self._http = make_client(timeout=timeout, transport=transport, auth=None)

    def __repr__(self) -> str:  # never the token
        return f"ShopifyAdmin(shop_domain={self.shop_domain!r}, api_version={self.api_version!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ShopifyAdmin:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def create_recovery_code(
        self,
        *,
        code: str,
        title: str,
        percentage: Decimal | None,
        amount: Decimal | None,
        currency: str | None,
        starts_at: datetime,
        ends_at: datetime,
    ) -> str:
        """Create a code usable once, by anyone, on every item; return the code Shopify stored.

        `percentage` is in percent (`Decimal("10")` is 10 % off); `amount` is a fixed amount off
        the order in `currency`, which must be the shop's currency (Shopify takes no currency
        with the amount). Give exactly one of them.
        """
        value = discount_value(percentage, amount, currency)
        discount = {
            "title": title,
            "code": code,
            "startsAt": _timestamp(starts_at, "starts_at"),
            "endsAt": _timestamp(ends_at, "ends_at"),
            **self._everyone(),
            "customerGets": {"value": value, "items": {"all": True}},
            "appliesOncePerCustomer": True,
            "usageLimit": 1,
            "combinesWith": {
                "orderDiscounts": False,
                "productDiscounts": False,
                "shippingDiscounts": True,
            },
        }
        envelope = self._call(CREATE_MUTATION, {"basicCodeDiscount": discount})
        return self._created_code(envelope, code)

    # --- plumbing ---------------------------------------------------------------------------

    def _everyone(self) -> dict[str, Any]:
        if self.api_version >= CONTEXT_SINCE_VERSION:  # also "unstable"
            return {"context": {"all": "ALL"}}
        return {"customerSelection": {"all": True}}

    def _call(self, query: str, variables: dict[str, Any]) -> _Envelope:
        request = self._http.build_request(
            "POST",
            self.endpoint,
            json={"query": query, "variables": variables},
            headers={ACCESS_TOKEN_HEADER: self._token, "Accept": "application/json"},
        )
        outcome = perform(self._http, request)
        where = f"Shopify {self.shop_domain}"
        if outcome.response is None:
            raise DiscountUnavailable(f"{where}: {outcome.error}")
        response = outcome.response
        if outcome.status is SendStatus.RETRY:
            retry_after = _seconds(response.headers.get("Retry-After"))
            status = response.status_code
            raise DiscountUnavailable(f"{where}: HTTP {status}", status, retry_after)
        if outcome.status is SendStatus.FAILED:
            raise DiscountError(_refusal(where, response), response.status_code)
        envelope = _read_envelope(where, response)
        _raise_for_errors(where, envelope)
        return envelope

    def _created_code(self, envelope: _Envelope, requested: str) -> str:
        where = f"Shopify {self.shop_domain}"
        payload = envelope.data.discount_code_basic_create if envelope.data else None
        if payload is None:
            raise DiscountError(f"{where}: the answer has no discountCodeBasicCreate result")
        if payload.user_errors:
            errors = tuple(
                UserError(tuple(e.field or ()), e.code, e.message) for e in payload.user_errors
            )
            details = "; ".join(str(error) for error in errors)
            raise DiscountRejected(f"{where} refused discount code {requested}: {details}", errors)
        node = payload.code_discount_node
        if node is None:
            raise DiscountError(f"{where}: no discount was created and no reason was given")
        codes = node.code_discount.codes if node.code_discount else None
        return codes.nodes[0].code if codes and codes.nodes else requested


def discount_value(
    percentage: Decimal | None, amount: Decimal | None, currency: str | None
) -> dict[str, Any]:
    """`DiscountCustomerGetsValueInput` for a percentage (in percent) or a fixed amount."""
    if percentage is not None and amount is None:
        if not Decimal(0) < percentage <= Decimal(100):
            raise ValueError(f"a discount percentage must be above 0 and at most 100: {percentage}")
        return {"percentage": float(percentage / 100)}
    if amount is None or percentage is not None:
        raise ValueError("give exactly one of percentage and amount for a discount")
    if amount <= 0:
        raise ValueError(f"a discount amount must be above 0: {amount}")
    if not currency or len(currency) != 3 or not currency.isalpha():
        raise ValueError("a fixed discount amount needs its ISO 4217 currency")
    return {"discountAmount": {"amount": str(amount), "appliesOnEachItem": False}}


def _timestamp(moment: datetime, name: str) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _read_envelope(where: str, response: httpx.Response) -> _Envelope:
    data = json_body(response)
    if not isinstance(data, dict):
        raise DiscountError(f"{where}: the answer is not a JSON object", response.status_code)
    try:
        return _Envelope.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(part) for part in error["loc"])
        raise DiscountError(f"{where}: unexpected answer at {path}: {error['msg']}") from None


def _raise_for_errors(where: str, envelope: _Envelope) -> None:
    if not envelope.errors:
        return
    if any(error.code == THROTTLED for error in envelope.errors):
        wait = _throttle_wait(envelope.extensions)
        raise DiscountUnavailable(f"{where}: throttled (query cost limit)", 200, wait)
    first = envelope.errors[0]
    label = f"{first.code}: " if first.code else ""
    raise DiscountError(f"{where}: {label}{first.message[:300]}", 200)


def _throttle_wait(extensions: dict[str, Any]) -> float | None:
    """Seconds until the bucket holds the requested cost, from `extensions.cost`."""
    cost = extensions.get("cost")
    if not isinstance(cost, dict):
        return None
    status = cost.get("throttleStatus")
    requested = cost.get("requestedQueryCost")
    if not isinstance(status, dict) or not isinstance(requested, int | float):
        return None
    available = status.get("currentlyAvailable")
    rate = status.get("restoreRate")
    if not isinstance(available, int | float) or not isinstance(rate, int | float) or rate <= 0:
        return None
    return max(0.0, (requested - available) / rate)


def _refusal(where: str, response: httpx.Response) -> str:
    code = response.status_code
    if code == 401:
        return (
            f"{where}: HTTP 401, Shopify refused the admin access token; check the store's "
            "admin_access_token"
        )
    if code == 403:
        return f"{where}: HTTP 403, the app lacks the write_discounts access scope"
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
