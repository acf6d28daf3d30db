"""No network call holds the database: webhooks are answered at once while the worker waits on
a gateway or on Shopify's Admin API (SQLite, where a transaction left open would lock every
writer out)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.channels.base import OutgoingMessage, SendResult, SendStatus
from cartback.clock import FakeClock
from cartback.config import load_config
from cartback.domain.events import Channel
from cartback.runtime import build, prepare_database
from cartback.testing import FakeGateway
from tests.fakes.shopify_admin import FakeShopifyAdmin
from tests.integration.conftest import CONFIG, DOMAIN, SECRET, START, TOKEN, Shop, checkout_payload
from tests.integration.test_discounts_engine import FLOWS, SHOPIFY_STORE
from tests.integration.test_policy_rules import config_yaml, store_yaml

HANG = 5.0  # seconds the far side takes
ANSWER_WITHIN = 1.0


@dataclass
class Hang:
    """A call that blocks until released (or HANG seconds pass), and tells when it started."""

    entered: threading.Event
    release: threading.Event

    def wait(self) -> None:
        self.entered.set()
        self.release.wait(HANG)


def _hang() -> Hang:
    return Hang(threading.Event(), threading.Event())


def core_config(url: str) -> str:
    return CONFIG.format(db_url=url, token=TOKEN, domain=DOMAIN, secret=SECRET)


def discount_config(url: str) -> str:
    text = config_yaml(FLOWS, stores=SHOPIFY_STORE + store_yaml("pool"))
    return text.replace("{db_url}", url).replace("{token}", TOKEN)


@contextmanager
def shop_on_sqlite(
    tmp_path: Path,
    config: Callable[[str], str],
    sms: FakeGateway | None,
    transport: httpx.BaseTransport | None,
) -> Iterator[Shop]:
    url = f"sqlite:///{tmp_path / 'cartback.db'}"
    path = tmp_path / "cartback.yaml"
    path.write_text(config(url))
    clock = FakeClock(START)
    gateway = sms or FakeGateway(clock, name="fake-sms")
    gateway.clock = clock
    runtime = build(
        load_config(path, environ={}),
        clock=clock,
        gateways={Channel.SMS: gateway},
        http_transport=transport,
    )
    prepare_database(runtime, auto_migrate=True)
    try:
        with TestClient(create_app(runtime)) as client:
            yield Shop(runtime, client, clock, gateway)
    finally:
        runtime.store.close()


def _answer_time_while_the_worker_waits(shop: Shop, hang: Hang) -> float:
    shop.checkout()
    shop.clock.advance(timedelta(minutes=30))
    worker = threading.Thread(target=shop.runtime.scheduler.tick)
    worker.start()
    try:
        assert hang.entered.wait(HANG), "the worker never reached the far side"
        started = time.monotonic()
        payload = checkout_payload(shop.clock.now(), token="another-checkout")
        response = shop.post("checkouts/update", payload)
        elapsed = time.monotonic() - started
        assert response.status_code == 200, response.text
    finally:
        hang.release.set()
        worker.join(timeout=30)
    return elapsed


def test_a_webhook_is_answered_while_the_gateway_hangs(tmp_path: Path) -> None:
    hang = _hang()

    def slow(message: OutgoingMessage) -> SendResult:
        hang.wait()
        return SendResult(SendStatus.SENT, provider_message_id=f"slow-{message.id}")

    clock = FakeClock(START)
    with shop_on_sqlite(tmp_path, core_config, FakeGateway(clock, respond=slow), None) as shop:
        assert _answer_time_while_the_worker_waits(shop, hang) < ANSWER_WITHIN
        assert len(shop.sms.sent) == 1
        [message] = shop.api("/api/messages")
        assert message["status"] == "sent"


def test_a_webhook_is_answered_while_shopify_creates_a_discount_code(tmp_path: Path) -> None:
    hang, admin = _hang(), FakeShopifyAdmin(shop_domain=DOMAIN)

    def slow(request: httpx.Request) -> httpx.Response:
        hang.wait()
        return admin.handle(request)

    with shop_on_sqlite(tmp_path, discount_config, None, httpx.MockTransport(slow)) as shop:
        assert _answer_time_while_the_worker_waits(shop, hang) < ANSWER_WITHIN
        [sms] = shop.sms.sent
        [code] = list(admin.discounts)
        assert f"off with {code}" in sms.text
