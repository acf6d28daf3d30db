"""A fake Magento 2 REST API: the searches, totals and orders the cart poller uses.

    fake = FakeMagento(token="magento-token")
    client = MagentoClient("http://shop/rest", "magento-token",
                           transport=httpx.MockTransport(fake.handle))
    with fake.serve() as base_url:        # or a real HTTP server on 127.0.0.1
        ...                               # base_url like "http://127.0.0.1:PORT/rest"

Carts answer in the CartInterface shape of the fixture `magento/cart_get_mine.json`, totals
in the TotalsInterface shape of `magento/cart_shipping_information_totals.json`, orders in the
OrderInterface shape of `tests/fixtures/magento/order.json`. Searches implement `filter_groups`
(groups ANDed, filters in a group ORed; eq, neq, gt, gteq, lt, lteq, in), `sortOrders`,
`pageSize` and `currentPage`, clamping a page beyond the last to the last page as Magento does.
A wrong Bearer token gets 401 in Magento's `{"message": ...}` shape; `fail(...)` makes the next
N requests answer 429 (with Retry-After) or 5xx. The fake also signs webhook bodies the way the
Adobe Commerce webhooks module does (RSA-SHA256 over the base64 of the body).
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import itertools
import json
import random
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from math import ceil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx

_ROOT = Path(__file__).resolve().parents[2]
_FIXTURES = _ROOT / "tests" / "fixtures" / "magento"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


_CART = _load(_FIXTURES / "cart_get_mine.json")
_TOTALS = _load(_FIXTURES / "cart_shipping_information_totals.json")["totals"]
_ORDER = _load(_FIXTURES / "order.json")


def magento_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


class FakeMagento:
    def __init__(self, token: str = "magento-test-token") -> None:
        self.token = token
        self.carts: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self._failures: list[tuple[int, int | None]] = []
        self._always: tuple[int, int | None] | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1000)

    # --- programming it ---------------------------------------------------------------------

    def add_cart(
        self,
        updated_at: datetime,
        *,
        email: str | None = "mshaw@example.com",
        phone: str | None = "20 12 34 56",
        country: str = "DK",
        guest: bool = False,
        items: list[tuple[str, str, int, str]] | None = None,
        currency: str = "DKK",
    ) -> dict[str, Any]:
        """A cart like the fixture's; items are (sku, name, qty, price)."""
        with self._lock:
            cart_id = next(self._ids)
            cart = _cart(cart_id, updated_at, email, phone, country, guest, currency)
            _set_items(cart, items or [("24-UG02", "Tone Band", 1, "16.00")])
            self.carts[cart_id] = cart
            return cart

    def update_cart(self, cart_id: int, updated_at: datetime, **changes: Any) -> dict[str, Any]:
        with self._lock:
            cart = self.carts[cart_id]
            cart.update(changes, updated_at=magento_time(updated_at))
            return cart

    def place_order(self, cart_id: int, created_at: datetime) -> dict[str, Any]:
        """Convert the cart into an order (the cart becomes inactive, as in Magento)."""
        with self._lock:
            cart = self.carts[cart_id]
            cart["is_active"] = False
            entity_id = next(self._ids)
            order = _order(entity_id, cart, created_at)
            self.orders[entity_id] = order
            return order

    def fail(self, status: int = 500, times: int = 1, retry_after: int | None = None) -> None:
        with self._lock:
            self._failures += [(status, retry_after)] * times

    def fail_always(self, status: int = 500) -> None:
        with self._lock:
            self._always = (status, None)

    def recover(self) -> None:
        with self._lock:
            self._failures.clear()
            self._always = None

    def paths(self) -> list[str]:
        return [_api_path(request.url.path) for request in self.requests]

    # --- webhooks ---------------------------------------------------------------------------

    @property
    def public_key_pem(self) -> str:
        return _signer().public_pem()

    def sign(self, body: bytes) -> str:
        """The `x-adobe-commerce-webhook-signature` value for `body`."""
        return _signer().sign(base64.b64encode(body))

    # --- serving ----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            failure = self._failures.pop(0) if self._failures else self._always
            if failure is not None:
                return _failure(*failure)
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return _error(401, "The consumer isn't authorized to access %resources.")
            return self._route(request)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Run as a real HTTP server on 127.0.0.1; yields the REST base URL."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/rest"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = _api_path(request.url.path)
        query = parse_qsl(request.url.query.decode(), keep_blank_values=True)
        if request.method != "GET":
            return _error(405, "Request does not match any route.")
        if path == "/V1/carts/search":
            return httpx.Response(200, json=_search(list(self.carts.values()), query))
        if path == "/V1/orders":
            return httpx.Response(200, json=_search(list(self.orders.values()), query))
        match = re.fullmatch(r"/V1/carts/(\d+)/totals", path)
        if match is not None:
            cart = self.carts.get(int(match[1]))
            if cart is None:
                return _error(404, "No such entity with %fieldName = %fieldValue")
            return httpx.Response(200, json=_totals(cart))
        return _error(404, "Request does not match any route.")


# --- shapes -----------------------------------------------------------------------------------


def _cart(
    cart_id: int,
    updated_at: datetime,
    email: str | None,
    phone: str | None,
    country: str,
    guest: bool,
    currency: str,
) -> dict[str, Any]:
    cart = copy.deepcopy(_CART)
    cart.pop("extension_attributes", None)
    stamp = magento_time(updated_at)
    cart.update(id=cart_id, created_at=stamp, updated_at=stamp, is_active=True)
    cart["customer_is_guest"] = guest
    if guest:
        cart["customer"] = {"email": None, "firstname": None, "lastname": None}
    else:
        cart["customer"].update(email=email, id=cart_id + 10_000)
    cart["billing_address"].update(email=email, telephone=phone, country_id=country)
    for key in ("global_currency_code", "base_currency_code", "store_currency_code"):
        cart["currency"][key] = currency
    cart["currency"]["quote_currency_code"] = currency
    return cart


def _set_items(cart: dict[str, Any], items: list[tuple[str, str, int, str]]) -> None:
    template = cart["items"][0]
    cart["items"] = [
        {
            **template,
            "item_id": cart["id"] * 10 + n,
            "sku": sku,
            "name": name,
            "qty": qty,
            "price": float(price),
            "quote_id": str(cart["id"]),
        }
        for n, (sku, name, qty, price) in enumerate(items)
    ]
    cart["items_count"] = len(items)
    cart["items_qty"] = sum(qty for _s, _n, qty, _p in items)


def _subtotal(cart: dict[str, Any]) -> Decimal:
    return sum((Decimal(repr(i["price"])) * i["qty"] for i in cart["items"]), Decimal("0"))


def _totals(cart: dict[str, Any]) -> dict[str, Any]:
    totals = copy.deepcopy(_TOTALS)
    subtotal = float(_subtotal(cart))
    shipping = float(totals["shipping_amount"])
    grand = subtotal + shipping
    template = totals["items"][0]
    totals["items"] = [
        {
            **template,
            "item_id": i["item_id"],
            "price": i["price"],
            "qty": i["qty"],
            "name": i["name"],
            "row_total": i["price"] * i["qty"],
        }
        for i in cart["items"]
    ]
    currency = cart["currency"]["quote_currency_code"]
    totals.update(
        subtotal=subtotal,
        grand_total=grand,
        base_grand_total=grand,
        quote_currency_code=currency,
        base_currency_code=currency,
        items_qty=cart["items_qty"],
    )
    for segment in totals["total_segments"]:
        segment["value"] = {"subtotal": subtotal, "grand_total": grand}.get(
            segment["code"], segment["value"]
        )
    return totals


def _order(entity_id: int, cart: dict[str, Any], created_at: datetime) -> dict[str, Any]:
    order = copy.deepcopy(_ORDER)
    billing = cart["billing_address"]
    grand = float(_subtotal(cart) + Decimal(repr(_TOTALS["shipping_amount"])))
    stamp = magento_time(created_at)
    order.update(
        entity_id=entity_id,
        increment_id=f"{entity_id:09d}",
        quote_id=cart["id"],
        created_at=stamp,
        updated_at=stamp,
        grand_total=grand,
        base_grand_total=grand,
        order_currency_code=cart["currency"]["quote_currency_code"],
        customer_email=billing.get("email"),
        customer_is_guest=cart["customer_is_guest"],
    )
    order["billing_address"].update(
        email=billing.get("email"),
        telephone=billing.get("telephone"),
        country_id=billing.get("country_id"),
    )
    return order


# --- searching --------------------------------------------------------------------------------


def _search(rows: list[dict[str, Any]], query: list[tuple[str, str]]) -> dict[str, Any]:
    criteria = _criteria(query)
    matching = [row for row in rows if all(_group_matches(row, g) for g in criteria["groups"])]
    for field, direction in reversed(criteria["sort"]):
        matching.sort(
            key=lambda row, f=field: _sort_key(_field(row, f)), reverse=direction == "DESC"
        )
    size = criteria["page_size"] or max(1, len(matching))
    last = max(1, ceil(len(matching) / size))
    page = min(max(criteria["page"], 1), last)  # Magento clamps to the last page
    items = matching[(page - 1) * size : page * size]
    echo = {
        "filter_groups": criteria["echo"],
        "page_size": criteria["page_size"],
        "current_page": criteria["page"],
    }
    return {"items": copy.deepcopy(items), "search_criteria": echo, "total_count": len(matching)}


def _criteria(query: list[tuple[str, str]]) -> dict[str, Any]:
    groups: dict[int, dict[int, dict[str, str]]] = {}
    sorts: dict[int, dict[str, str]] = {}
    page, size = 1, 0
    for key, value in query:
        if m := re.fullmatch(
            r"searchCriteria\[filter_groups\]\[(\d+)\]\[filters\]\[(\d+)\]\[(\w+)\]", key
        ):
            groups.setdefault(int(m[1]), {}).setdefault(int(m[2]), {})[m[3]] = value
        elif m := re.fullmatch(r"searchCriteria\[sortOrders\]\[(\d+)\]\[(\w+)\]", key):
            sorts.setdefault(int(m[1]), {})[m[2]] = value
        elif key == "searchCriteria[currentPage]":
            page = int(value)
        elif key == "searchCriteria[pageSize]":
            size = int(value)
    filter_groups = [list(groups[g].values()) for g in sorted(groups)]
    sort = [(s["field"], s.get("direction", "ASC").upper()) for _, s in sorted(sorts.items())]
    echo = [{"filters": filters} for filters in filter_groups]
    return {"groups": filter_groups, "sort": sort, "page": page, "page_size": size, "echo": echo}


def _group_matches(row: dict[str, Any], filters: list[dict[str, str]]) -> bool:
    return any(_matches(row, f) for f in filters)


def _field(row: dict[str, Any], name: str) -> Any:
    """Carts call their entity_id `id` in CartInterface."""
    return row.get("id") if name == "entity_id" and "entity_id" not in row else row.get(name)


def _matches(row: dict[str, Any], flt: dict[str, str]) -> bool:
    actual, wanted = _comparable(_field(row, flt["field"])), flt.get("value", "")
    condition = flt.get("condition_type", "eq")
    if condition == "in":
        return any(actual == _comparable(v) for v in wanted.split(","))
    target = _comparable(wanted)
    checks = {
        "eq": lambda: actual == target,
        "neq": lambda: actual != target,
        "gt": lambda: actual > target,
        "gteq": lambda: actual >= target,
        "lt": lambda: actual < target,
        "lteq": lambda: actual <= target,
    }
    return checks[condition]()


def _comparable(value: Any) -> Any:
    """Numbers compare as numbers, `YYYY-MM-DD HH:MM:SS` as text (which orders them by time)."""
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, int | float):
        return Decimal(repr(value))
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return Decimal(value)
    return "" if value is None else str(value)


def _sort_key(value: Any) -> tuple[int, Any]:
    comparable = _comparable(value)
    return (0, comparable) if isinstance(comparable, Decimal) else (1, comparable)


def _api_path(path: str) -> str:
    index = path.find("/V1/")
    return path[index:] if index >= 0 else path


def _failure(status: int, retry_after: int | None) -> httpx.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    message = "Too Many Requests" if status == 429 else "Internal Error."
    return httpx.Response(status, json={"message": message}, headers=headers)


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"message": message})


# --- a real HTTP server -----------------------------------------------------------------------


def _handler_for(fake: FakeMagento) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}"
            request = httpx.Request("GET", url, headers=dict(self.headers.items()))
            response = fake.handle(request)
            body = response.content
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


# --- RSA for signing webhooks (test keys only) ------------------------------------------------


class _RsaKey:
    """A small RSA key pair (1024 bits: fast to make, fine for tests) and PKCS#1 v1.5 signing."""

    _DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")

    def __init__(self, n: int, e: int, d: int) -> None:
        self.n, self.e, self.d = n, e, d

    @classmethod
    def generate(cls, bits: int = 1024) -> _RsaKey:
        rng = random.Random(20261130)
        e = 65537
        while True:
            p, q = _prime(bits // 2, rng), _prime(bits // 2, rng)
            phi = (p - 1) * (q - 1)
            if p != q and phi % e and (p * q).bit_length() == bits:
                return cls(p * q, e, pow(e, -1, phi))

    def sign(self, message: bytes) -> str:
        size = (self.n.bit_length() + 7) // 8
        info = self._DIGEST_INFO + hashlib.sha256(message).digest()
        padded = b"\x00\x01" + b"\xff" * (size - len(info) - 3) + b"\x00" + info
        signature = pow(int.from_bytes(padded, "big"), self.d, self.n).to_bytes(size, "big")
        return base64.b64encode(signature).decode()

    def public_pem(self) -> str:
        rsa_key = _der(0x30, _der_int(self.n) + _der_int(self.e))
        algorithm = _der(0x30, bytes.fromhex("06092a864886f70d010101") + b"\x05\x00")
        spki = _der(0x30, algorithm + _der(0x03, b"\x00" + rsa_key))
        text = base64.b64encode(spki).decode()
        lines = [text[i : i + 64] for i in range(0, len(text), 64)]
        return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


@functools.cache
def _signer() -> _RsaKey:
    return _RsaKey.generate()


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def _der_int(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")  # leading zero keeps it positive
    return _der(0x02, raw)


def _prime(bits: int, rng: random.Random) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
        if _probably_prime(candidate, rng):
            return candidate


def _probably_prime(n: int, rng: random.Random, rounds: int = 24) -> bool:
    for small in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % small == 0:
            return n == small
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True
