"""A cartback wired to a fake clock and a fake SMS gateway, on each database backend."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cartback.api.app import create_app
from cartback.clock import FakeClock
from cartback.config import load_config
from cartback.domain.events import Channel
from cartback.integrations import shopify
from cartback.runtime import Runtime, build
from cartback.store.db import connect
from cartback.testing import FakeGateway
from tests.conftest import FIXTURES

SECRET = "shpss_test_secret"
TOKEN = "test-api-token"
DOMAIN = "acme.myshopify.com"
PHONE = "+4520123456"
# 2026-11-30 11:00 in Copenhagen: inside the default sending window.
START = datetime.fromisoformat("2026-11-30T10:00:00+00:00")

CONFIG = """
database_url: {db_url}
public_url: https://cb.example
api_token: {token}
stores:
  - id: acme
    platform: shopify
    shop_domain: {domain}
    webhook_secret: {secret}
    name: Acme
    timezone: Europe/Copenhagen
    default_country: DK
    currency: USD
channels:
  sms:
    provider: outbox
    path: unused.jsonl
    sender: Acme
    cost_per_segment: 0.30
policy:
  quiet_hours: {{start: "21:00", end: "09:00"}}
  cooldown: 72h
flows:
  - id: cart-sms
    store: acme
    abandon_after: 30m
    steps:
      - send: sms
        template: >-
          Hi {{{{ first_name }}}}, your basket at {{{{ store_name }}}} is saved: {{{{ link }}}}
      - wait: 24h
      - send: email
"""


@dataclass
class Shop:
    """Drives a cartback runtime the way a Shopify store and its shoppers would."""

    runtime: Runtime
    client: TestClient
    clock: FakeClock
    sms: FakeGateway

    def post(self, topic: str, payload: dict[str, Any], *, webhook_id: str | None = None) -> Any:
        body = json.dumps(payload).encode()
        headers = {
            shopify.TOPIC_HEADER: topic,
            shopify.SHOP_DOMAIN_HEADER: DOMAIN,
            shopify.HMAC_HEADER: shopify.sign(body, SECRET),
            shopify.WEBHOOK_ID_HEADER: webhook_id or str(uuid.uuid4()),
            "Content-Type": "application/json",
        }
        return self.client.post("/webhooks/shopify", content=body, headers=headers)

    def checkout(self, **changes: Any) -> dict[str, Any]:
        payload = checkout_payload(self.clock.now(), **changes)
        response = self.post("checkouts/update", payload)
        assert response.status_code == 200, response.text
        return payload

    def order(self, checkout: dict[str, Any] | None, **changes: Any) -> dict[str, Any]:
        payload = order_payload(self.clock.now(), checkout, **changes)
        response = self.post("orders/create", payload)
        assert response.status_code == 200, response.text
        return payload

    def tick(self) -> int:
        return self.runtime.scheduler.tick()

    def advance(self, delta: timedelta) -> int:
        self.clock.advance(delta)
        return self.tick()

    def api(self, path: str, **params: Any) -> Any:
        response = self.client.get(
            path, params=params, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def cart(self, cart_id: int = 1) -> Any:
        return self.api(f"/api/carts/{cart_id}")


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "shopify" / name).read_text())
    return data


_CHECKOUT = _fixture("checkouts_create.json")
_ORDER = _fixture("orders_create.json")


def checkout_payload(now: datetime, **changes: Any) -> dict[str, Any]:
    """Shopify's sample checkout with a consenting Danish phone (the sample's are invalid)."""
    payload = copy.deepcopy(_CHECKOUT)
    payload.update(
        buyer_accepts_sms_marketing=True,
        sms_marketing_phone=PHONE,
        updated_at=now.isoformat(),
        created_at=now.isoformat(),
    )
    payload.update(changes)
    return payload


def order_payload(now: datetime, checkout: dict[str, Any] | None, **changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(_ORDER)
    payload.update(
        id=int(uuid.uuid4().int % 10**18),
        checkout_token=checkout["token"] if checkout else None,
        # Shopify's sample is a voided, cancelled test order: this one is a real purchase.
        cancelled_at=None,
        cancel_reason=None,
        financial_status="paid",
        test=False,
        created_at=now.isoformat(),
    )
    payload.update(changes)
    for key in ("total_price", "total_discounts"):  # an amount changed alone: its set follows
        if key in changes and f"{key}_set" not in changes:
            amount = {"amount": changes[key], "currency_code": payload["currency"]}
            payload[f"{key}_set"] = {"shop_money": amount, "presentment_money": amount}
    return payload


def make_runtime(
    db_url: str,
    tmp_path: Path,
    config: str = CONFIG,
    *,
    transport: httpx.BaseTransport | None = None,
    **fmt: Any,
) -> tuple[Runtime, FakeClock, FakeGateway]:
    """A runtime on a fake clock. With `transport`, the configured HTTP gateways talk to it;
    without, SMS goes to a FakeGateway."""
    path = tmp_path / "cartback.yaml"
    path.write_text(config.format(db_url=db_url, token=TOKEN, domain=DOMAIN, secret=SECRET, **fmt))
    settings = load_config(path, environ={})
    clock = FakeClock(START)
    gateway = FakeGateway(clock, name="fake-sms")
    overrides = None if transport is not None else {Channel.SMS: gateway}
    runtime = build(settings, clock=clock, gateways=overrides, http_transport=transport)
    return runtime, clock, gateway


@pytest.fixture
def shop(db_url: str, tmp_path: Path) -> Iterator[Shop]:
    runtime, clock, gateway = make_runtime(db_url, tmp_path)
    with TestClient(create_app(runtime)) as client:
        yield Shop(runtime, client, clock, gateway)
    runtime.store.close()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = connect(db_url)
    yield engine
    engine.dispose()
