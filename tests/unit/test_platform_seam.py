"""Adding a platform is one module and its registration: a tiny fake platform, registered for a
test, gets its route, its config value and its webhooks through the one handler.

No database: the runtime runs on the in-memory store (the SQL one is exercised per platform in
tests/integration/test_platforms.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from cartback.api.app import create_app
from cartback.clock import FakeClock
from cartback.config import Settings
from cartback.domain.events import CartUpdated, Consent, Customer, Event
from cartback.domain.records import Delivery as StoredRecord
from cartback.integrations._json import load_object
from cartback.integrations.platform import (
    Platform,
    ShopStore,
    StoredDelivery,
    Verdict,
    WebhookRequest,
    header,
    secret_of,
)
from cartback.integrations.registry import PLATFORMS, Registry
from cartback.integrations.woocommerce_cart_recovery import TOPIC as CAR_TOPIC
from cartback.runtime import Runtime, build
from cartback.testing import InMemoryStore

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
SECRET = "tiny-secret"


# --- the whole of a new platform --------------------------------------------------------------


class TinyShop(Platform):
    """A shop that posts `{"id", "email", "total"}` signed with a hex HMAC in `X-Tiny-Sig`."""

    name = "tiny"
    path = "/webhooks/tiny/{store_id}"
    kept_headers = ("X-Tiny-Event",)
    summary = "Tiny shop webhook"

    def config_problem(self, store: ShopStore) -> tuple[str, str] | None:
        return None if secret_of(store) else ("webhook_secret", "required for a tiny store")

    def verify(self, request: WebhookRequest, store: ShopStore, now: datetime) -> Verdict:
        expected = hmac.new(secret_of(store).encode(), request.body, hashlib.sha256).hexdigest()
        given = request.header("X-Tiny-Sig") or ""
        if hmac.compare_digest(given, expected):
            return Verdict.accept()
        return Verdict.refuse("X-Tiny-Sig does not match this body")

    def topic(self, request: WebhookRequest) -> str:
        return request.header("X-Tiny-Event") or "cart"

    def delivery_key(self, request: WebhookRequest) -> str | None:
        return "tiny:" + hashlib.sha256(request.body).hexdigest()

    def parse(
        self, delivery: StoredDelivery, store: ShopStore, received_at: datetime
    ) -> list[Event]:
        doc = load_object(delivery.body, "cart")
        return [
            CartUpdated(
                store_id=store.id,
                cart_key=doc.require_ident("id"),
                occurred_at=received_at,
                currency=store.currency or "EUR",
                total=doc.require_amount("total"),
                customer=Customer(email=doc.text("email")),
                consent=Consent(),
            )
        ]


# --- a runtime without a database -------------------------------------------------------------


def deliveries(runtime: Runtime) -> list[StoredRecord]:
    with runtime.store.reading() as tx:
        return tx.deliveries.listing(status=None, store_id=None, limit=10)


def settings_with(*stores: dict[str, Any]) -> Settings:
    return Settings.model_validate({"api_token": "t", "stores": list(stores)})


TINY_STORE = {"id": "tiny1", "platform": "tiny", "name": "Tiny", "webhook_secret": SECRET}


@pytest.fixture
def tiny() -> Iterator[TinyShop]:
    platform = TinyShop()
    with PLATFORMS.registered(platform):
        yield platform


@pytest.fixture
def shop(tiny: TinyShop) -> Iterator[tuple[TestClient, Runtime]]:
    runtime = build(settings_with(TINY_STORE), clock=FakeClock(NOW), store=InMemoryStore())
    with TestClient(create_app(runtime)) as client:
        yield client, runtime


def post(client: TestClient, payload: Any, *, secret: str = SECRET, store: str = "tiny1") -> Any:
    body = json.dumps(payload).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Tiny-Sig": signature, "X-Tiny-Event": "cart", "Content-Type": "application/json"}
    return client.post(f"/webhooks/tiny/{store}", content=body, headers=headers)


# --- what registering it gives ----------------------------------------------------------------


def test_a_registered_platform_is_a_config_value_with_its_own_required_keys(tiny: TinyShop) -> None:
    assert "tiny" in PLATFORMS.store_platforms()
    assert settings_with(TINY_STORE).stores[0].platform == "tiny"
    with pytest.raises(ValidationError, match="required for a tiny store"):
        settings_with({**TINY_STORE, "webhook_secret": None})


def test_an_unregistered_platform_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        settings_with(TINY_STORE)
    assert "'tiny' is not a platform cartback knows" in str(caught.value)
    assert "shopify, woocommerce, generic, magento" in str(caught.value)


def test_its_webhooks_go_through_the_one_handler_into_ingest(
    shop: tuple[TestClient, Runtime],
) -> None:
    client, runtime = shop

    answer = post(client, {"id": 7, "email": "ann@example.com", "total": "12.50"})

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "received", "delivery_id": 1}
    [delivery] = deliveries(runtime)
    assert (delivery.platform, delivery.store_id, delivery.topic) == ("tiny", "tiny1", "cart")
    assert delivery.headers == {"X-Tiny-Event": "cart", "Content-Type": "application/json"}
    assert delivery.status == "processed"  # applied after the answer
    with runtime.store.reading() as tx:
        cart = tx.carts.find("tiny1", "7")
    assert cart is not None and (cart.total, cart.email) == (Decimal("12.50"), "ann@example.com")
    again = post(client, {"id": 7, "email": "ann@example.com", "total": "12.50"})
    assert again.json() == {"status": "duplicate", "delivery_id": 1}


def test_its_refusals_have_the_one_error_shape_and_store_nothing(
    shop: tuple[TestClient, Runtime],
) -> None:
    client, runtime = shop

    forged = post(client, {"id": 1, "total": "1"}, secret="guess")
    unknown = post(client, {"id": 1, "total": "1"}, store="nope")

    assert forged.status_code == 401
    assert forged.json()["error"] == {
        "code": "bad_signature",
        "message": "X-Tiny-Sig does not match this body",
    }
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_store"
    assert deliveries(runtime) == []


def test_a_body_that_is_not_an_object_is_refused_and_stored(
    shop: tuple[TestClient, Runtime],
) -> None:
    client, runtime = shop

    answer = post(client, [1])

    assert answer.status_code == 400
    assert answer.json() == {
        "error": {
            "code": "unreadable_body",
            "message": "body: expected a JSON object, got an array",
        },
        "delivery_id": 1,
        "stored": True,
    }
    [delivery] = deliveries(runtime)
    assert delivery.status == "failed"


def test_a_bad_field_fails_the_delivery_after_the_answer_naming_it(
    shop: tuple[TestClient, Runtime],
) -> None:
    client, runtime = shop

    answer = post(client, {"id": 1})

    assert answer.status_code == 200
    [delivery] = deliveries(runtime)
    assert (delivery.status, delivery.error) == ("failed", "cart.total: missing")


def test_a_replay_finds_the_same_parser_and_the_docs_show_the_route(
    shop: tuple[TestClient, Runtime],
) -> None:
    client, runtime = shop
    store = runtime.settings.stores[0]

    parse = PLATFORMS.parser_for(store, "tiny", "cart", {})

    [event] = parse(b'{"id": 3, "total": 1}', NOW)
    assert isinstance(event, CartUpdated) and event.cart_key == "3"
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/webhooks/tiny/{store_id}"]["post"]["summary"] == "Tiny shop webhook"


def test_a_platform_registered_for_a_block_is_gone_after_it() -> None:
    with PLATFORMS.registered(TinyShop()):
        assert "tiny" in PLATFORMS.store_platforms()
    assert "tiny" not in PLATFORMS.store_platforms()
    assert [platform.name for platform in PLATFORMS] == [
        "shopify",
        "woocommerce",
        "woocommerce_cart_recovery",
        "generic",
        "magento",
    ]


# --- the registry -----------------------------------------------------------------------------


def test_the_registry_refuses_a_second_platform_of_the_same_name_or_route() -> None:
    registry = Registry([TinyShop()])

    with pytest.raises(ValueError, match="already registered"):
        registry.register(TinyShop())

    class SameRoute(TinyShop):
        name = "tiny2"

    other = SameRoute()
    with pytest.raises(ValueError, match="already serves /webhooks/tiny/"):
        registry.register(other)


def test_a_stored_delivery_is_read_by_the_platform_that_stored_it() -> None:
    assert PLATFORMS.for_delivery("woocommerce", "order.updated").name == "woocommerce"
    assert PLATFORMS.for_delivery("woocommerce", CAR_TOPIC).name == "woocommerce_cart_recovery"
    assert PLATFORMS.for_delivery("magento", "cart").name == "magento"
    assert PLATFORMS.for_delivery("generic", "event").name == "generic"
    with pytest.raises(ValueError, match="no parser for platform 'nope'"):
        PLATFORMS.for_delivery("nope", None)


def test_a_header_is_found_whatever_the_case_of_its_name() -> None:
    asgi = {"x-shopify-topic": "checkouts/create", "content-type": "application/json"}
    stored = {"X-Shopify-Topic": "checkouts/update", "Content-Type": "application/json"}
    for name in ("X-Shopify-Topic", "x-shopify-topic", "X-SHOPIFY-TOPIC"):
        assert header(asgi, name) == "checkouts/create"
        assert header(stored, name) == "checkouts/update"
    assert header(asgi, "X-Shopify-Hmac-Sha256") is None
    assert header({"x-empty": ""}, "X-Empty") == "", "an empty value is a value"
