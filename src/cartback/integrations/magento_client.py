"""A small client for the Magento 2 / Adobe Commerce REST API: the calls the cart poller needs.

Authentication is an integration access token sent as `Authorization: Bearer <token>`.
Searches use Magento's `searchCriteria` query parameters and answer
`{"items": [...], "search_criteria": {...}, "total_count": n}`. Magento clamps a `currentPage`
beyond the last page to the last page, so callers must stop by `total_count`, never by
"an empty page". Timestamps are UTC, written `YYYY-MM-DD HH:MM:SS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from math import ceil
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cartback.domain.bounds import check_time

__all__ = [
    "TIME_FORMAT",
    "CartPage",
    "MagentoClient",
    "MagentoError",
    "MagentoUnavailable",
    "OrderPage",
    "Totals",
    "format_time",
    "parse_time",
]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class MagentoError(Exception):
    """Magento refused the request (4xx other than 429) or answered something unreadable."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MagentoUnavailable(MagentoError):
    """Magento could not answer now (429, 5xx, timeout, connection); try again later."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message, status)
        self.retry_after = retry_after  # seconds, from Retry-After when Magento sent one


def parse_time(text: str) -> datetime:
    """Magento's `2017-09-15 16:15:54` (UTC) as an aware datetime; ISO 8601 with offset too."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a Magento timestamp (YYYY-MM-DD HH:MM:SS)") from None
    return check_time("time", moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


# --- answers ----------------------------------------------------------------------------------


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _SearchAnswer(_Answer):
    items: list[dict[str, Any]] = Field(default_factory=list)
    total_count: int = Field(ge=0)


class _CartRow(_Answer):
    id: int
    updated_at: str

    @field_validator("updated_at")
    @classmethod
    def _readable(cls, value: str) -> str:
        parse_time(value)
        return value


class _OrderRow(_Answer):
    entity_id: int
    created_at: str

    @field_validator("created_at")
    @classmethod
    def _readable(cls, value: str) -> str:
        parse_time(value)
        return value


class _TotalsAnswer(_Answer):
    grand_total: Decimal
    quote_currency_code: str | None = None


@dataclass(frozen=True, slots=True)
class CartPage:
    """One page of `GET /V1/carts/search`; `carts` are the CartInterface objects as sent."""

    carts: list[dict[str, Any]]
    total_count: int
    page: int
    page_size: int

    @property
    def last_page(self) -> int:
        return max(1, ceil(self.total_count / self.page_size))


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of `GET /V1/orders`; `orders` are the OrderInterface objects as sent."""

    orders: list[dict[str, Any]]
    total_count: int
    page: int
    page_size: int

    @property
    def last_page(self) -> int:
        return max(1, ceil(self.total_count / self.page_size))


@dataclass(frozen=True, slots=True)
class Totals:
    """`GET /V1/carts/{id}/totals` (TotalsInterface), `raw` as sent."""

    grand_total: Decimal
    currency: str | None
    raw: dict[str, Any]


# --- the client -------------------------------------------------------------------------------

Filter = tuple[str, str, str]  # field, value, condition_type


class MagentoClient:
    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        timeout: float = 15.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MagentoClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def search_carts(self, updated_after: datetime, page: int, page_size: int) -> CartPage:
        """Active carts with items, updated at or after `updated_after`, oldest first."""
        filters = [
            ("is_active", "1", "eq"),
            ("items_count", "0", "gt"),
            ("updated_at", format_time(updated_after), "gteq"),
        ]
        params = _search_params(filters, ("updated_at", "entity_id"), page, page_size)
        answer = self._search("/V1/carts/search", params)
        carts = [self._valid(_CartRow, item, "/V1/carts/search") for item in answer.items]
        return CartPage(carts, answer.total_count, page, page_size)

    def cart_totals(self, cart_id: str) -> Totals:
        path = f"/V1/carts/{cart_id}/totals"
        data = self._get(path, [])
        if not isinstance(data, dict):
            raise MagentoError(f"{self.base_url}{path}: expected a JSON object")
        try:
            totals = _TotalsAnswer.model_validate(data)
        except ValidationError as exc:
            raise MagentoError(f"{self.base_url}{path}: {_first(exc)}") from None
        return Totals(totals.grand_total, totals.quote_currency_code, data)

    def search_orders(self, created_after: datetime, page: int, page_size: int) -> OrderPage:
        """Orders created at or after `created_after`, oldest first."""
        filters = [("created_at", format_time(created_after), "gteq")]
        params = _search_params(filters, ("created_at", "entity_id"), page, page_size)
        answer = self._search("/V1/orders", params)
        orders = [self._valid(_OrderRow, item, "/V1/orders") for item in answer.items]
        return OrderPage(orders, answer.total_count, page, page_size)

    def orders_for_quotes(
        self, quote_ids: list[str], created_after: datetime, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """The orders placed from these carts (one page of up to `page_size`)."""
        if not quote_ids:
            return []
        filters = [
            ("quote_id", ",".join(quote_ids), "in"),
            ("created_at", format_time(created_after), "gteq"),
        ]
        params = _search_params(filters, ("created_at", "entity_id"), 1, page_size)
        answer = self._search("/V1/orders", params)
        return [self._valid(_OrderRow, item, "/V1/orders") for item in answer.items]

    # --- plumbing ---------------------------------------------------------------------------

    def _search(self, path: str, params: list[tuple[str, str]]) -> _SearchAnswer:
        data = self._get(path, params)
        try:
            return _SearchAnswer.model_validate(data)
        except ValidationError as exc:
            raise MagentoError(
                f"{self.base_url}{path}: not a search answer: {_first(exc)}"
            ) from None

    def _valid(self, model: type[_Answer], item: object, path: str) -> dict[str, Any]:
        try:
            model.model_validate(item)
        except ValidationError as exc:
            raise MagentoError(f"{self.base_url}{path}: {_first(exc)}") from None
        if not isinstance(item, dict):
            raise MagentoError(f"{self.base_url}{path}: expected an object")
        return item

    def _get(self, path: str, params: list[tuple[str, str]]) -> object:
        try:
            response = self._http.get(path, params=tuple(params))
        except httpx.TimeoutException:
            raise MagentoUnavailable(f"{self.base_url}{path}: timed out") from None
        except httpx.TransportError as exc:
            raise MagentoUnavailable(f"{self.base_url}{path}: {type(exc).__name__}") from None
        _raise_for_status(response, f"{self.base_url}{path}")
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise MagentoError(f"{self.base_url}{path}: the answer is not JSON") from None


def _search_params(
    filters: list[Filter], sort: tuple[str, ...], page: int, page_size: int
) -> list[tuple[str, str]]:
    """One filter group per filter (groups are ANDed), sorted ascending by `sort`."""
    params: list[tuple[str, str]] = []
    for group, (field, value, condition) in enumerate(filters):
        prefix = f"searchCriteria[filter_groups][{group}][filters][0]"
        params += [
            (f"{prefix}[field]", field),
            (f"{prefix}[value]", value),
            (f"{prefix}[condition_type]", condition),
        ]
    for index, field in enumerate(sort):
        params += [
            (f"searchCriteria[sortOrders][{index}][field]", field),
            (f"searchCriteria[sortOrders][{index}][direction]", "ASC"),
        ]
    params += [
        ("searchCriteria[pageSize]", str(page_size)),
        ("searchCriteria[currentPage]", str(page)),
    ]
    return params


def _raise_for_status(response: httpx.Response, where: str) -> None:
    status = response.status_code
    if status < 400:
        return
    if status == 429 or status >= 500:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        raise MagentoUnavailable(f"{where}: HTTP {status}", status, retry_after)
    if status == 401:
        raise MagentoError(
            f"{where}: HTTP 401, Magento refused the access token; check the store's "
            "access_token and that the integration is active",
            status,
        )
    if status == 403:
        raise MagentoError(
            f"{where}: HTTP 403, the integration lacks a resource (needs Magento_Cart::manage "
            "and Magento_Sales::actions_view)",
            status,
        )
    raise MagentoError(f"{where}: HTTP {status}: {_message(response)}", status)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _message(response: httpx.Response) -> str:
    """Magento's error body is `{"message": "...", "parameters": ...}`; keep it short."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:200]
    message = data.get("message") if isinstance(data, dict) else None
    return str(message)[:200] if message else response.text[:200]


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
