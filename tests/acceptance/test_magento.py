"""A real `cartback serve` polling a fake Magento 2 over real HTTP.

The fake serves 250 carts across three pages and throttles once (429, Retry-After: 1) in the
middle of the paging. What a shop owner would check: every cart listed once, none missing, each
stored delivery once, the poller back after the throttle, an order in Magento closing its cart,
and the recovery link built from the store's template. Every wait polls with a deadline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.processes import Running, config_yaml, free_port
from tests.fakes.magento import FakeMagento

pytestmark = pytest.mark.acceptance

API_TOKEN = "mage-api-token"
MAGENTO_TOKEN = "magento-integration-token"
CARTS = 250
THROTTLE_AT = 150  # the 150th request: among the second page's totals calls
RESTORE = "https://mage.example/checkout/cart/restore/{cart_id}"
CONDITION_DEADLINE = 90.0  # seconds, for `wait_for`: 250 polled carts on a loaded 2-core machine


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


def write_config(path: Path, database_url: str, port: int, magento_url: str, outbox: Path) -> None:
    stores = f"""\
  - id: mage
    platform: magento
    name: Mage Shop
    base_url: {magento_url}
    access_token: {MAGENTO_TOKEN}
    poll_every: 1s
    recovery_url_template: "{RESTORE}"
    default_country: DK
    currency: DKK
"""
    channels = f"""\
  sms:
    provider: outbox
    path: {outbox}
    sender: MageShop
"""
    flows = """\
  - id: mage-sms
    store: mage
    abandon_after: 2s
    steps:
      - send: sms
"""
    config = config_yaml(
        database_url, port, API_TOKEN, stores=stores, channels=channels, flows=flows
    )
    path.write_text(config, encoding="utf-8")


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
def server(db_url: str, tmp_path: Path, magento: ThrottlingMagento) -> Iterator[Running]:
    with magento.serve() as magento_url:
        port = free_port()
        config = tmp_path / "cartback.yaml"
        write_config(config, db_url, port, magento_url, tmp_path / "outbox.jsonl")
        with Running.started(
            ["serve"],
            config,
            tmp_path,
            "server",
            port=port,
            token=API_TOKEN,
            deadline=CONDITION_DEADLINE,
            poll_every=0.2,
        ) as running:
            yield running


def test_polled_carts_are_each_stored_once_through_a_throttle_and_closed_by_orders(
    server: Running, magento: ThrottlingMagento
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
