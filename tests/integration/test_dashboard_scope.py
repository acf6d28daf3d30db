"""A dashboard session limited to one store (an agency's shop logging in with its own token)
sees that store's carts, messages, contacts, flows and deliveries, and nothing of the others."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.api.dashboard import auth
from tests.integration.conftest import CONFIG, TOKEN, Shop, make_runtime
from tests.integration.test_dashboard import log_in, recovered_cart

OTHER_STORE = """\
  - id: other
    platform: generic
    webhook_secret: other-secret
    name: Other Shop
    timezone: UTC
    default_country: GB
    currency: GBP
    api_token: other-store-token
  - id: third
    platform: generic
    webhook_secret: third-secret
    name: Third Shop
    timezone: UTC
    default_country: GB
    api_token: third-store-token
channels:"""
ACME_TOKEN = ("    currency: USD\n", "    currency: USD\n    api_token: acme-store-token\n")


@pytest.fixture
def two_shops(db_url: str, tmp_path: Path) -> Iterator[Shop]:
    runtime, clock, gateway = make_runtime(
        db_url, tmp_path, CONFIG.replace("channels:", OTHER_STORE, 1).replace(*ACME_TOKEN, 1)
    )
    with TestClient(create_app(runtime), base_url="https://testserver") as client:
        yield Shop(runtime, client, clock, gateway)
    runtime.store.close()


def as_store(shop: Shop, store_id: str | None) -> TestClient:
    """The shop's client with a session cookie for `store_id` (None: every store); the
    session's CSRF token in the client's `csrf` header (read by `form`)."""
    key = auth.signing_key(shop.runtime.settings)
    mark = auth.store_mark(key, shop.runtime.settings, store_id)
    value, session = auth.issue(key, shop.clock.now(), store=store_id, mark=mark)
    shop.client.cookies.set(auth.SESSION_COOKIE, value)
    shop.client.headers["x-test-csrf"] = session.csrf
    return shop.client


def form(client: TestClient) -> dict[str, str]:
    return {"csrf": client.headers["x-test-csrf"]}


def test_a_store_session_sees_only_its_own_store(two_shops: Shop) -> None:
    recovered_cart(two_shops)
    [cart] = two_shops.api("/api/carts", store="acme")
    delivery = two_shops.post("checkouts/update", {"not": "a checkout"}).json()["delivery_id"]
    admin = as_store(two_shops, None)
    assert admin.get(f"/dashboard/carts/{cart['id']}").status_code == 200
    assert "Other Shop" in admin.get("/dashboard").text, "the admin chooses among the stores"

    other = as_store(two_shops, "other")
    assert other.get(f"/dashboard/carts/{cart['id']}").status_code == 404
    assert other.get(f"/dashboard/deliveries/{delivery}").status_code == 404
    assert (
        other.post(f"/dashboard/deliveries/{delivery}/replay", data=form(other)).status_code == 404
    )
    assert "No failed deliveries" in other.get("/dashboard/deliveries").text
    refused = other.get("/dashboard/carts?store=acme")
    assert refused.status_code == 400 and "sees only the store" in refused.text
    listing = other.get("/dashboard/carts").text
    assert "No carts yet" in listing and "Acme" not in listing
    assert "cart-sms" not in other.get("/dashboard/flows").text, "acme's flow"
    assert "+4520123456" not in other.get("/dashboard/messages").text
    person = other.get("/dashboard/contacts?q=%2B4520123456").text
    assert "no contact" in person and "in store" in person  # as the API answers that store
    overview = other.get("/dashboard").text
    assert "Other Shop" in overview and 'id="f-store"' not in overview

    acme = as_store(two_shops, "acme")
    assert acme.get(f"/dashboard/carts/{cart['id']}").status_code == 200
    assert "checkout" in acme.get("/dashboard/contacts?q=%2B4520123456").text


def test_a_session_for_a_store_no_longer_configured_is_no_session(two_shops: Shop) -> None:
    gone = as_store(two_shops, "closed-shop")
    answer = gone.get("/dashboard", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


@pytest.mark.parametrize(("token", "store"), [(TOKEN, None), ("other-store-token", "other")])
def test_the_admin_token_sees_every_store_and_a_stores_token_its_own(
    two_shops: Shop, token: str, store: str | None
) -> None:
    log_in(two_shops.client, token)
    cookie = two_shops.client.cookies.get(auth.SESSION_COOKIE)
    key = auth.signing_key(two_shops.runtime.settings)
    session = auth.read(key, cookie, two_shops.clock.now())
    assert session is not None and session.store == store
    overview = two_shops.client.get("/dashboard").text
    assert ('id="f-store"' in overview) == (store is None), "only the admin chooses a store"


def test_a_store_session_ends_when_the_stores_token_changes(two_shops: Shop) -> None:
    key = auth.signing_key(two_shops.runtime.settings)
    old_mark = auth.store_mark(key, two_shops.runtime.settings, "third")
    assert old_mark is not None and old_mark != auth.store_mark(
        key, two_shops.runtime.settings, "other"
    )
    value, _ = auth.issue(key, two_shops.clock.now(), store="other", mark=old_mark)
    two_shops.client.cookies.set(auth.SESSION_COOKIE, value)
    answer = two_shops.client.get("/dashboard", follow_redirects=False)
    assert answer.status_code == 303, "a mark of another token is no session"
