"""Admin API enrichment end to end, against the fake Shopify Admin GraphQL, on both databases.

A 2026-04 checkout carries no customer tags, order count, amount spent or consent, and its items
no product tags: what the flows' rules need is fetched through the cached lookup while the
delivery is applied, and the rules work as they did on older payloads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.clock import FakeClock
from cartback.config import load_config
from cartback.domain.events import Channel
from cartback.engine.enrichment import shopify_enricher
from cartback.runtime import build
from cartback.testing import FakeGateway
from tests.fakes.shopify_admin import FakeShopifyAdmin
from tests.integration.conftest import DOMAIN, PHONE, SECRET, START, TOKEN, Shop
from tests.integration.test_policy_rules import config_yaml, flow_yaml

ACCESS_TOKEN = FakeShopifyAdmin().access_token
CUSTOMER = "603851970716743400"  # the sample checkout's customer
PRODUCT = "632910392"  # the sample checkout's first item
STORE = """  - id: acme
    platform: shopify
    shop_domain: {domain}
    webhook_secret: {secret}
    name: Acme
    timezone: Europe/Copenhagen
    default_country: DK
    currency: USD
"""
FLOWS = flow_yaml(
    "vip",
    "acme",
    "- send: sms\n  template: 'VIP {{ first_name }}, your basket waits: {{ link }}'\n",
    abandon_after="20m",
    priority="10",
    **{"if": "vip"},
) + flow_yaml(
    "everyone",
    "acme",
    "- send: sms\n  template: 'Hi {{ first_name }}{% if discount_code %}, "
    "{{ discount }} off with {{ discount_code }}{% endif %}: {{ link }}'\n"
    "  discount: {percentage: 10, exclude_tags: [promo], expires_after: 48h}\n",
)
SEGMENTS = "vip: {customer_tags: {includes: vip}}\n"


@dataclass
class Rig:
    shop: Shop
    admin: FakeShopifyAdmin

    def timeline(self, cart_id: int = 1) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.shop.cart(cart_id)["timeline"]
        return found

    def decision(self, action: str, cart_id: int = 1) -> dict[str, Any]:
        [found] = [e for e in self.timeline(cart_id) if e["action"] == action]
        return found


def _open(db_url: str, tmp_path: Path, store: str) -> Iterator[Rig]:
    stores = store.format(domain=DOMAIN, secret=SECRET)
    text = config_yaml(FLOWS, stores=stores, segments=SEGMENTS)
    path = tmp_path / "cartback.yaml"
    path.write_text(text.replace("{db_url}", db_url).replace("{token}", TOKEN))
    settings = load_config(path, environ={})
    clock = FakeClock(START)
    admin = FakeShopifyAdmin(shop_domain=DOMAIN)
    transport = httpx.MockTransport(admin.handle)
    sms = FakeGateway(clock, name="fake-sms")
    runtime = build(settings, clock=clock, gateways={Channel.SMS: sms}, http_transport=transport)
    # The same lookup, on the fake's timer: a throttle wait moves it instead of sleeping.
    runtime.ingest.enrich = shopify_enricher(
        settings, clock, transport=transport, timer=admin.timer
    )
    try:
        with TestClient(create_app(runtime)) as client:
            yield Rig(Shop(runtime, client, clock, sms), admin)
    finally:
        runtime.store.close()


@pytest.fixture
def rig(db_url: str, tmp_path: Path) -> Iterator[Rig]:
    yield from _open(db_url, tmp_path, STORE + f"    access_token: {ACCESS_TOKEN}\n")


@pytest.fixture
def tokenless(db_url: str, tmp_path: Path) -> Iterator[Rig]:
    yield from _open(db_url, tmp_path, STORE)


def _vip(admin: FakeShopifyAdmin, **fields: Any) -> None:
    admin.add_customer(
        CUSTOMER,
        tags=("vip", "newsletter"),
        orders=3,
        spent="1200.00",
        currency="USD",
        phone=PHONE,
        sms_state="SUBSCRIBED",
        consent_updated_at=START - timedelta(days=40),
        **fields,
    )


def test_a_current_checkout_of_a_customer_tagged_vip_on_shopify_enters_the_vip_flow(
    rig: Rig,
) -> None:
    _vip(rig.admin)
    # No box ticked on this checkout: the consent is the one on Shopify's customer record.
    rig.shop.checkout(buyer_accepts_sms_marketing=False)
    rig.shop.advance(timedelta(minutes=20))

    [sms] = rig.shop.sms.sent
    assert sms.to == PHONE and sms.text.startswith("VIP John, your basket waits: ")
    abandoned = rig.decision("abandon")
    assert abandoned["flow_id"] == "vip"
    assert "flow vip: segment vip holds: customer tags include vip" in abandoned["detail"]
    assert rig.decision("enrich")["detail"] == (
        "Shopify Admin API: customer vip, newsletter; 3 orders; 1200.00 USD spent; "
        "SMS marketing SUBSCRIBED."
    )
    [entry] = rig.shop.api(f"/api/contacts/{PHONE}")["history"]
    assert entry["source"] == "shopify:admin-api" and entry["granted"] is True
    assert entry["detail"] == "smsMarketingConsent.marketingState=SUBSCRIBED"


def test_a_product_tagged_promo_on_shopify_excludes_the_discount(rig: Rig) -> None:
    rig.admin.add_customer(CUSTOMER, tags=(), phone=PHONE, sms_state="SUBSCRIBED")
    rig.admin.add_product(PRODUCT, tags=("Promo",), collections=(("Sale", "sale"),))
    rig.shop.checkout()
    rig.shop.advance(timedelta(minutes=30))

    [sms] = rig.shop.sms.sent
    assert sms.text.startswith("Hi John: ")
    discount = rig.decision("discount")
    assert discount["reason"] == "excluded_items" and "promo" in discount["detail"]
    assert rig.admin.discounts == {}
    [item, *_] = rig.shop.cart()["items"]
    assert item["tags"] == ["Promo"] and item["collections"] == ["Sale", "sale"]


def test_the_query_cost_throttle_is_waited_out_then_the_lookup_goes_through(rig: Rig) -> None:
    _vip(rig.admin)
    rig.admin.available = 4.0  # under the lookup's cost (20): Shopify answers THROTTLED
    rig.admin.timer.now = 0.0
    rig.shop.checkout()
    rig.shop.advance(timedelta(minutes=20))

    assert rig.admin.throttled == 1
    assert rig.admin.timer.sleeps == [0.16]  # 16 points short, restored at 100 a second
    [sms] = rig.shop.sms.sent
    assert sms.text.startswith("VIP John")


def test_the_second_cart_of_the_same_customer_is_served_from_the_cache(rig: Rig) -> None:
    _vip(rig.admin)
    rig.shop.checkout()
    rig.shop.checkout()  # an update of the same checkout: the same facts, told once
    assert [e["action"] for e in rig.timeline()] == ["enrich"]
    rig.shop.checkout(token="second-checkout", cart_token="second-cart")

    assert rig.admin.count("nodes") == 1
    # One query for the customer and the product (a discount rule excludes tagged items).
    assert rig.admin.lookups == [
        f"gid://shopify/Customer/{CUSTOMER}",
        f"gid://shopify/Product/{PRODUCT}",
    ]
    rig.shop.clock.advance(timedelta(hours=1, minutes=1))  # the TTL ran out
    rig.shop.checkout(token="third-checkout", cart_token="third-cart")
    assert rig.admin.count("nodes") == 2
    ledger = rig.shop.api(f"/api/contacts/{PHONE}")["history"]
    assert [e["source"] for e in ledger] == ["shopify:admin-api"]  # read four times, kept once


def test_shopify_not_answering_leaves_the_cart_as_the_webhook_gave_it(rig: Rig) -> None:
    _vip(rig.admin)
    for _ in range(4):
        rig.admin.fail_next(503)
    rig.shop.checkout()
    rig.shop.advance(timedelta(minutes=30))

    assert rig.decision("abandon")["flow_id"] == "everyone"
    assert rig.shop.sms.sent[0].text.startswith("Hi John")
    assert rig.decision("enrich")["detail"] == (
        "Shopify acme.myshopify.com: HTTP 503; the cart is as the webhook gave it "
        "(no customer or product data)."
    )


def test_without_a_token_the_timeline_names_the_rules_that_cannot_be_evaluated(
    tokenless: Rig,
) -> None:
    tokenless.shop.checkout()
    tokenless.shop.advance(timedelta(minutes=30))

    detail = tokenless.decision("abandon")["detail"]
    assert "Without a Shopify Admin API access token these rules cannot be evaluated" in detail
    assert "flow vip: customer tags" in detail
    assert "flow everyone step 1: discount excluded item tags" in detail
    assert tokenless.admin.requests == []
