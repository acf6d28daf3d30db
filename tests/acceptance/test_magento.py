"""A real `cartback serve` polling a fake Magento 2 over real HTTP.

The fake serves 250 carts across three pages and throttles once (429, Retry-After: 1) in the
middle of the paging. What a shop owner would check: every cart listed once, none missing, each
stored delivery once, the poller back after the throttle, an order in Magento closing its cart,
and the recovery link built from the store's template. Every wait polls with a deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.fakes.magento import FakeMagento

pytestmark = pytest.mark.acceptance

API_TOKEN = "mage-api-token"
MAGENTO_TOKEN = "magento-integration-token"
CARTS = 250
THROTTLE_AT = 150  # the 150th request: among the second page's totals calls
RESTORE = "https://mage.example/checkout/cart/restore/{cart_id}"
STARTUP_DEADLINE = 30.0
CONDITION_DEADLINE = 30.0
STOP_DEADLINE = 20.0

T = TypeVar("T")


class ThrottlingMagento(FakeMagento):
    """Answers 429 with Retry-After: 1 to the `throttle_at`-th request, once."""

    def __init__(self, token: str, throttle_at: int) -> None:
        super().__init__(token=token)
        self.throttle_at = throttle_at
        self.throttled: list[int] = []  # indices into `requests` answered 429

    def handle(self, request: httpx.Request) -> httpx.Response:
        if not self.throttled and len(self.requests) + 1 == self.throttle_at:
            self.throttled.append(len(self.requests))
            self.fail(429, times=1, retry_after=1)
        return super().handle(request)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    stderr_path: Path
    http: httpx.Client = field(repr=False)

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def api(self, path: str, **params: str | int) -> Any:
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        response = self.http.get(path, params=params, headers=headers)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def wait_for(self, what: str, condition: Callable[[], T | None]) -> T:
        deadline = time.monotonic() + CONDITION_DEADLINE
        while True:
            found = condition()
            if found:
                return found
            if self.process.poll() is not None:
                pytest.fail(f"the server exited ({self.process.returncode}) while waiting {what}")
            if time.monotonic() > deadline:
                pytest.fail(f"waited {CONDITION_DEADLINE:g}s {what}; stderr:\n{self.stderr()}")
            time.sleep(0.2)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(path: Path, database_url: str, port: int, magento_url: str, outbox: Path) -> None:
    path.write_text(
        f"""\
database_url: {database_url}
public_url: http://127.0.0.1:{port}
api_token: {API_TOKEN}
stores:
  - id: mage
    platform: magento
    name: Mage Shop
    base_url: {magento_url}
    access_token: {MAGENTO_TOKEN}
    poll_every: 1s
    recovery_url_template: "{RESTORE}"
    default_country: DK
    currency: DKK
channels:
  sms:
    provider: outbox
    path: {outbox}
    sender: MageShop
policy:
  quiet_hours: null
worker:
  poll_interval: 1s
flows:
  - id: mage-sms
    store: mage
    abandon_after: 2s
    steps:
      - send: sms
""",
        encoding="utf-8",
    )


@pytest.fixture
def magento() -> ThrottlingMagento:
    fake = ThrottlingMagento(MAGENTO_TOKEN, THROTTLE_AT)
    first = datetime.now(UTC) - timedelta(minutes=10)
    for n in range(CARTS):  # two seconds apart: the last ten minutes, inside the first look-back
        reachable = n == 123
        fake.add_cart(
            first + timedelta(seconds=2 * n),
            email="astrid@example.com" if reachable else f"shopper{n}@example.com",
            phone="20 12 34 56" if reachable else None,
        )
    return fake


@pytest.fixture
def server(db_url: str, tmp_path: Path, magento: ThrottlingMagento) -> Iterator[Server]:
    with magento.serve() as magento_url:
        port = free_port()
        config = tmp_path / "cartback.yaml"
        write_config(config, db_url, port, magento_url, tmp_path / "outbox.jsonl")
        env = {k: v for k, v in os.environ.items() if k != "CARTBACK_DATABASE_URL"}
        stderr_path = tmp_path / "server.stderr"
        command = [sys.executable, "-m", "cartback.cli", "serve", "--config", str(config)]
        with stderr_path.open("wb") as stderr_file:
            process = subprocess.Popen(
                [*command, "--port", str(port)],
                stdout=stderr_file,
                stderr=stderr_file,
                env=env,
                cwd=tmp_path,
            )
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0)
        running = Server(process, stderr_path, http)
        try:
            _wait_until_healthy(running)
            yield running
        finally:
            http.close()
            exit_code = _stop(process)
            print(f"--- cartback serve stderr (exit code {exit_code}) ---\n{running.stderr()}")
    assert exit_code == 0, f"cartback serve did not stop cleanly on SIGINT: {exit_code}"


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"cartback serve exited at startup:\n{server.stderr()}")
        try:
            if server.http.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"no healthy /healthz within {STARTUP_DEADLINE:g}s:\n{server.stderr()}")


def _stop(process: subprocess.Popen[bytes]) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return None
    return process.returncode


def test_polled_carts_are_each_stored_once_through_a_throttle_and_closed_by_orders(
    server: Server, magento: ThrottlingMagento
) -> None:
    expected = {str(cart_id) for cart_id in magento.carts}

    def all_carts() -> list[dict[str, Any]] | None:
        carts: list[dict[str, Any]] = server.api("/api/carts", store="mage", limit=1000)
        return carts if len(carts) >= CARTS else None

    carts = server.wait_for(f"for {CARTS} polled carts", all_carts)
    keys = Counter(cart["cart_key"] for cart in carts)
    assert set(keys) == expected, "carts missing or unknown"
    assert max(keys.values()) == 1, [key for key, n in keys.items() if n > 1]

    deliveries = server.api("/api/deliveries", store="mage", limit=1000)
    cart_deliveries = [d for d in deliveries if d["topic"] == "cart"]
    per_cart = Counter(d["delivery_key"].split(":")[1] for d in cart_deliveries)
    assert set(per_cart) == expected and max(per_cart.values()) == 1
    assert {d["status"] for d in cart_deliveries} == {"processed"}
    assert {d["attempts"] for d in cart_deliveries} == {1}

    [throttled] = magento.throttled
    after = magento.paths()[throttled + 1 :]
    assert "/V1/carts/search" in after, "the poller did not come back after the 429"
    resumed = sum(path.endswith("/totals") for path in after)
    assert resumed >= CARTS - THROTTLE_AT, "the carts after the 429 were read by a later poll"

    reachable = next(c for c in carts if c["email"] == "astrid@example.com")
    assert reachable["phone"] == "+4520123456" and reachable["currency"] == "DKK"
    detail = server.api(f"/api/carts/{reachable['id']}")
    assert detail["recovery_url"] == RESTORE.format(cart_id=reachable["cart_key"])

    magento.place_order(int(reachable["cart_key"]), datetime.now(UTC))

    def purchased() -> dict[str, Any] | None:
        cart: dict[str, Any] = server.api(f"/api/carts/{reachable['id']}")
        return cart if cart["status"] == "purchased" else None

    cart = server.wait_for("for the ordered cart to be purchased", purchased)
    assert cart["order"] is not None and cart["order"]["currency"] == "DKK"
    others = server.api("/api/carts", store="mage", status="purchased", limit=1000)
    assert [c["id"] for c in others] == [reachable["id"]]
