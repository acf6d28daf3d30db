"""The Magento poller against a fake Magento, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cartback.clock import FakeClock
from cartback.config import StoreConfig
from cartback.domain.records import Cursor
from cartback.engine.poller import MagentoPoller, carts_cursor
from cartback.integrations.magento_client import MagentoClient
from cartback.runtime import Runtime
from cartback.store.tables import carts, deliveries
from tests.fakes.magento import FakeMagento
from tests.integration.conftest import make_runtime

CONFIG = """
database_url: {db_url}
api_token: {token}
stores:
  - id: shop
    platform: magento
    name: Shop
    base_url: https://shop.example/rest
    access_token: shop-token
    poll_every: 1m
    default_country: DK
    recovery_url_template: "https://shop.example/cart/{{cart_id}}"
  - id: other
    platform: magento
    name: Other
    base_url: https://other.example/rest
    access_token: other-token
    poll_every: 1m
    default_country: DK
flows:
  - id: cart-sms
    store: shop
    abandon_after: 30m
    steps:
      - send: sms
"""


@dataclass
class World:
    runtime: Runtime
    clock: FakeClock
    shop: FakeMagento
    other: FakeMagento
    handlers: dict[str, Callable[[httpx.Request], httpx.Response]]

    def poller(self, page_size: int = 100) -> MagentoPoller:
        def client(store: StoreConfig) -> MagentoClient:
            transport = httpx.MockTransport(lambda request: self.handlers[store.id](request))
            return MagentoClient(
                store.base_url or "", store.access_token or "", transport=transport
            )

        stores = self.runtime.settings.stores
        return MagentoPoller(
            self.runtime.store, self.clock, self.runtime.ingest, stores, client, page_size
        )

    def add_carts(self, count: int, *, start: timedelta = timedelta(minutes=50)) -> list[Any]:
        first = self.clock.now() - start
        return [self.shop.add_cart(first + timedelta(seconds=n)) for n in range(count)]

    def count(self, table: Any, *where: Any) -> int:
        with self.runtime.store.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
            )

    def cursor(self, store_id: str = "shop") -> Cursor | None:
        with self.runtime.store.reading() as tx:
            return tx.cursors.get(carts_cursor(store_id))


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    runtime, clock, _sms = make_runtime(db_url, tmp_path, CONFIG)
    shop, other = FakeMagento(token="shop-token"), FakeMagento(token="other-token")
    yield World(runtime, clock, shop, other, {"shop": shop.handle, "other": other.handle})
    runtime.store.close()


def _cart_deliveries(world: World) -> int:
    return world.count(deliveries, deliveries.c.store_id == "shop", deliveries.c.topic == "cart")


def test_pages_through_250_carts_and_stores_each_once(world: World) -> None:
    world.add_carts(250)
    poller = world.poller()
    assert poller.poll_due() == 250
    assert world.count(carts, carts.c.store_id == "shop") == 250
    assert _cart_deliveries(world) == 250
    world.clock.advance(timedelta(minutes=1))
    assert poller.poll_due() == 0
    assert _cart_deliveries(world) == 250


def test_carts_sharing_one_second_across_a_page_boundary_are_all_read(world: World) -> None:
    world.add_carts(5, start=timedelta(minutes=50))
    same = world.clock.now() - timedelta(minutes=40)
    for _ in range(150):
        world.shop.add_cart(same)
    assert world.poller().poll_due() == 155
    assert world.count(carts, carts.c.store_id == "shop") == 155


def test_throttled_poll_backs_off_and_resumes_without_missing_or_repeating(world: World) -> None:
    world.add_carts(250)
    seen = {"requests": 0}

    def throttle_once(request: httpx.Request) -> httpx.Response:
        seen["requests"] += 1
        if seen["requests"] == 120:  # in the middle of the second page's totals
            return httpx.Response(429, json={"message": "Too Many"}, headers={"Retry-After": "300"})
        return world.shop.handle(request)

    world.handlers["shop"] = throttle_once
    poller = world.poller()
    first = poller.poll_due()
    assert 100 <= first < 250
    state = world.cursor()
    assert state is not None and state.failures == 1
    assert state.retry_at == world.clock.now() + timedelta(seconds=300)  # Retry-After wins
    world.clock.advance(timedelta(minutes=2))
    assert poller.poll_due() == 0  # still backing off
    world.clock.advance(timedelta(minutes=4))
    assert poller.poll_due() == 250 - first
    assert _cart_deliveries(world) == 250
    assert world.count(deliveries, deliveries.c.attempts > 1) == 0
    state = world.cursor()
    assert state is not None and (state.failures, state.retry_at) == (0, None)


def test_server_errors_back_off_exponentially(world: World) -> None:
    world.shop.fail_always(500)
    poller = world.poller()
    for failures, delay in ((1, 2), (2, 4), (3, 8)):
        poller.poll_due()
        state = world.cursor()
        assert state is not None and state.failures == failures
        assert state.retry_at == world.clock.now() + timedelta(minutes=delay)
        world.clock.advance(timedelta(minutes=delay))


def test_restart_neither_misses_nor_repeats(world: World) -> None:
    old = world.add_carts(120)
    assert world.poller().poll_due() == 120
    world.clock.advance(timedelta(minutes=1))
    world.add_carts(130, start=timedelta(minutes=30))
    world.shop.update_cart(old[0]["id"], world.clock.now() - timedelta(minutes=1))
    restarted = world.poller()  # a new process, same database
    assert restarted.poll_due() == 131
    assert world.count(carts, carts.c.store_id == "shop") == 250
    assert _cart_deliveries(world) == 251
    assert world.count(carts, carts.c.update_count == 2) == 1


def test_an_order_for_a_polled_cart_closes_it(world: World) -> None:
    [cart] = world.add_carts(1)
    poller = world.poller()
    poller.poll_due()
    world.clock.advance(timedelta(minutes=5))
    order = world.shop.place_order(cart["id"], world.clock.now() - timedelta(minutes=1))
    world.clock.advance(timedelta(minutes=1))
    assert poller.poll_due() == 1
    with world.runtime.store.engine.connect() as conn:
        row = conn.execute(select(carts).where(carts.c.cart_key == str(cart["id"]))).one()
    assert row.status == "purchased"
    assert row.recovery_url == f"https://shop.example/cart/{cart['id']}"
    keys = world.count(deliveries, deliveries.c.delivery_key == f"order:{order['entity_id']}")
    assert keys == 1


def test_a_broken_store_does_not_stop_a_healthy_one(world: World) -> None:
    world.shop.fail_always(500)
    world.other.add_cart(world.clock.now() - timedelta(minutes=5))
    assert world.poller().poll_due() == 1
    assert world.count(carts, carts.c.store_id == "other") == 1
    broken, healthy = world.cursor("shop"), world.cursor("other")
    assert broken is not None and broken.failures == 1
    assert healthy is not None and healthy.failures == 0


def test_a_bad_token_backs_off_and_is_logged_without_the_token(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.shop.token = "rotated-token"
    world.shop.add_cart(world.clock.now() - timedelta(minutes=5))
    world.poller().poll_due()
    state = world.cursor()
    assert state is not None and state.failures == 1
    assert "access token" in caplog.text
    assert "shop-token" not in caplog.text


def test_stored_poll_deliveries_replay_through_parser_for(world: World) -> None:
    world.add_carts(1)
    poller = world.poller()
    poller.poll_due()
    with world.runtime.store.engine.connect() as conn:
        row = conn.execute(select(deliveries).where(deliveries.c.topic == "cart")).one()
    store = world.runtime.settings.store("shop")
    assert store is not None
    result = world.runtime.ingest.apply(row.id, poller.parser_for(store, row.topic))
    assert result.events == 1
