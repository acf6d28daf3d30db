"""Single-use recovery discount codes, created through Shopify's GraphQL Admin API.

- `discountCodeBasicCreate(basicCodeDiscount: DiscountCodeBasicInput!)` answers
  `{codeDiscountNode, userErrors: [{field: [String!], code, message}]}`. Refusals (a code that is
  already taken: code `TAKEN`, "Code must be unique. Please try a different code.") are
  `userErrors` in an HTTP 200 answer, not HTTP errors. The app needs the `write_discounts` scope.
- Who may use the code: `context: {all: ALL}` from API version 2025-10 on, where it replaced the
  deprecated `customerSelection: {all: true}`; older versions get `customerSelection`.
- Value: `percentage` is a Float fraction (0.1 is 10 % off); `discountAmount.amount` a Decimal in
  the shop's currency, sent as a string.

The transport, the query-cost throttle and the errors are `shopify_graphql`'s.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import Field

from cartback.integrations.shopify_graphql import (
    ACCESS_TOKEN_HEADER,
    API_VERSION,
    AdminError,
    AdminGraphQL,
    AdminUnavailable,
    AnswerModel,
    Timer,
    UserError,
    read_answer,
    user_errors,
)

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

DEFAULT_API_VERSION = API_VERSION
CONTEXT_SINCE_VERSION = "2025-10"  # `context` replaced `customerSelection` in this version
TAKEN = "TAKEN"
CREATE_COST = 10  # a mutation's requested cost

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

DiscountError = AdminError  # the names the discount engine catches
DiscountUnavailable = AdminUnavailable


class DiscountRejected(AdminError):
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


class _Code(AnswerModel):
    code: str


class _Codes(AnswerModel):
    nodes: list[_Code] = Field(default_factory=list)


class _CodeDiscount(AnswerModel):
    codes: _Codes | None = None


class _Node(AnswerModel):
    id: str
    code_discount: _CodeDiscount | None = Field(default=None, alias="codeDiscount")


class _Payload(AnswerModel):
    code_discount_node: _Node | None = Field(default=None, alias="codeDiscountNode")
    user_errors: list[dict[str, Any]] = Field(alias="userErrors")


# --- the client -------------------------------------------------------------------------------


class ShopifyAdmin:
    """Discount codes for one shop. `ShopifyAdmin(domain, token)` as before; the keywords reach
    the shared transport (`base_url` for a proxy or a fake, `timer` for tests)."""

    def __init__(
        self,
        shop_domain: str,
        access_token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        base_url: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        timer: Timer | None = None,
        max_wait: float = 5.0,
    ) -> None:
        self.graphql = AdminGraphQL(
            shop_domain,
            access_token,
            api_version=api_version,
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            timer=timer,
            max_wait=max_wait,
        )
        self.shop_domain = shop_domain
        self.api_version = api_version
        self.endpoint = self.graphql.endpoint

    def __repr__(self) -> str:  # never the token
        return f"ShopifyAdmin(shop_domain={self.shop_domain!r}, api_version={self.api_version!r})"

    def close(self) -> None:
        self.graphql.close()

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
        data = self.graphql.execute(
            CREATE_MUTATION,
            {"basicCodeDiscount": discount},
            cost=CREATE_COST,
            scope="write_discounts",
        )
        return self._created_code(data, code)

    # --- plumbing ---------------------------------------------------------------------------

    def _everyone(self) -> dict[str, Any]:
        if self.api_version >= CONTEXT_SINCE_VERSION:  # also "unstable"
            return {"context": {"all": "ALL"}}
        return {"customerSelection": {"all": True}}

    def _created_code(self, data: dict[str, Any], requested: str) -> str:
        where = f"Shopify {self.shop_domain}"
        payload = _payload(where, data.get("discountCodeBasicCreate"))
        if payload.user_errors:
            errors = user_errors({"userErrors": payload.user_errors})
            details = "; ".join(str(error) for error in errors)
            raise DiscountRejected(f"{where} refused discount code {requested}: {details}", errors)
        node = payload.code_discount_node
        if node is None:
            raise DiscountError(f"{where}: no discount was created and no reason was given")
        codes = node.code_discount.codes if node.code_discount else None
        return codes.nodes[0].code if codes and codes.nodes else requested


def _payload(where: str, raw: object) -> _Payload:
    if raw is None:
        raise DiscountError(f"{where}: the answer has no discountCodeBasicCreate result")
    return read_answer(_Payload, raw, where)


def discount_value(
    percentage: Decimal | None, amount: Decimal | None, currency: str | None
) -> dict[str, Any]:
    """`DiscountCustomerGetsValueInput` for a percentage (in percent) or a fixed amount."""
    if (percentage is None) == (amount is None):
        raise ValueError("give exactly one of percentage and amount for a discount")
    if percentage is not None:
        if not Decimal(0) < percentage <= Decimal(100):
            raise ValueError(f"a discount percentage must be above 0 and at most 100: {percentage}")
        return {"percentage": float(percentage / 100)}
    if amount is None or amount <= 0:
        raise ValueError(f"a discount amount must be above 0: {amount}")
    if not currency or len(currency) != 3 or not currency.isalpha():
        raise ValueError("a fixed discount amount needs its ISO 4217 currency")
    return {"discountAmount": {"amount": str(amount), "appliesOnEachItem": False}}


def _timestamp(moment: datetime, name: str) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
