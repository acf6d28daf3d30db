"""Strategic discounts end to end: who gets a code, where it comes from, what it costs.

A Shopify store creates a single-use code through the (fake) Admin API for each qualifying
basket; a generic store draws codes from its imported pool. Both on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cartback.engine.discounting import DiscountIssuer
from cartback.integrations.shopify_admin import ShopifyAdmin
from tests.fakes.shopify_admin import TAKEN_MESSAGE, FakeShopifyAdmin
from tests.integration.conftest import DOMAIN, PHONE, SECRET, START, Shop
from tests.integration.test_policy_rules import (
    BOB_EMAIL,
    BOB_PHONE,
    GenericShop,
    config_yaml,
    flow_yaml,
    open_shop,
    store_yaml,
)

ACCESS_TOKEN = FakeShopifyAdmin().access_token
RECOVER_PATH = "/548380009/checkouts/123123123/recover"  # the sample checkout's recovery URL

SHOPIFY_STORE = f"""  - id: acme
    platform: shopify
    shop_domain: {DOMAIN}
    webhook_secret: {SECRET}
    access_token: {ACCESS_TOKEN}
    name: Acme
    timezone: Europe/Copenhagen
    default_country: DK
    currency: USD
"""
TEMPLATE = (
    "'Hi {{ first_name }}{% if discount_code %}, take {{ discount }} off with "
    "{{ discount_code }}{% endif %}: {{ link }}'"
)
FLOWS = flow_yaml(
    "acme-sms",
    "acme",
    f"""
    - send: sms
      template: {TEMPLATE}
      discount: {{percentage: 10, min_basket: 100, expires_after: 48h}}
    """,
) + flow_yaml(
    "pool-sms",
    "pool",
    f"""
    - send: sms
      template: {TEMPLATE}
      discount: {{amount: 50, min_basket: 100, exclude_tags: [gift-card]}}
    """,
)


@dataclass
class Rig:
    shopify: Shop
    generic: GenericShop
    admin: FakeShopifyAdmin

    def discount_decision(self, cart: dict[str, Any]) -> dict[str, Any]:
        found: list[dict[str, Any]] = [e for e in cart["timeline"] if e.get("action") == "discount"]
        [decision] = found
        return decision


@pytest.fixture
def rig(db_url: str, tmp_path: Path) -> Iterator[Rig]:
    config = config_yaml(FLOWS, stores=SHOPIFY_STORE + store_yaml("pool"))
    with open_shop(db_url, tmp_path, config) as generic:
        fake = FakeShopifyAdmin(shop_domain=DOMAIN)
        transport = httpx.MockTransport(fake.handle)
        generic.runtime.scheduler.sender.discounts = DiscountIssuer(
            admin=lambda shop: ShopifyAdmin(
                shop.shop_domain or "", shop.access_token or "", transport=transport
            )
        )
        shopify = Shop(generic.runtime, generic.client, generic.clock, generic.sms)
        yield Rig(shopify, generic, fake)


def _code_in(text: str) -> str:
    return text.split(" off with ", 1)[1].split(":", 1)[0]


# --- Shopify: a code created through the Admin API --------------------------------------------


def test_a_basket_over_the_threshold_gets_a_single_use_code_and_a_link_that_applies_it(
    rig: Rig,
) -> None:
    rig.shopify.checkout()  # 421.88 USD
    rig.shopify.advance(timedelta(minutes=30))

    [sms] = rig.shopify.sms.sent
    assert sms.text.startswith("Hi John, take 10% off with BACK-")
    code = _code_in(sms.text)
    [request] = rig.admin.requests
    assert request.headers["X-Shopify-Access-Token"] == ACCESS_TOKEN
    created = rig.admin.last_body["variables"]["basicCodeDiscount"]
    assert created["code"] == code and list(rig.admin.discounts) == [code]
    assert created["usageLimit"] == 1 and created["appliesOncePerCustomer"] is True
    assert created["startsAt"] == "2026-11-30T10:30:00Z"
    assert created["endsAt"] == "2026-12-02T10:30:00Z"  # expires_after: 48h
    assert created["customerGets"]["value"] == {"percentage": 0.1}

    link = sms.text.rsplit(" ", 1)[1]
    assert link.startswith("https://cb.example/r/")
    response = rig.shopify.client.get(
        link.removeprefix("https://cb.example"), follow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["location"] == (
        f"https://{DOMAIN}/discount/{code}?redirect={RECOVER_PATH}%3Fkey%3Dexample-secret-token"
    )
    decision = rig.discount_decision(rig.shopify.cart())
    assert decision["reason"] == "ok"
    assert decision["detail"] == f"10% off with single-use code {code}, valid 2 days."


def test_a_basket_under_the_threshold_gets_no_code(rig: Rig) -> None:
    rig.shopify.checkout(total_price="50.00")
    rig.shopify.advance(timedelta(minutes=30))

    [sms] = rig.shopify.sms.sent
    assert sms.text.startswith("Hi John: https://cb.example/r/")
    assert rig.admin.requests == []
    decision = rig.discount_decision(rig.shopify.cart())
    assert decision["reason"] == "below_threshold"
    assert decision["detail"] == "Basket 50.00 USD is below the 100 needed for a code."


def test_a_cart_that_already_carries_a_code_gets_no_second_one(rig: Rig) -> None:
    applied = [{"code": "WELCOME10", "amount": "42.19", "type": "percentage"}]
    rig.shopify.checkout(discount_codes=applied)
    rig.shopify.advance(timedelta(minutes=30))

    [sms] = rig.shopify.sms.sent
    assert "off with" not in sms.text and rig.admin.requests == []
    assert rig.discount_decision(rig.shopify.cart())["reason"] == "already_discounted"


def test_shopify_refusing_the_code_sends_the_message_without_a_discount(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.admin.existing_codes.add("BACK-2222-3333")
    monkeypatch.setattr("cartback.engine.discounting.make_code", lambda: "BACK-2222-3333")
    checkout = rig.shopify.checkout()
    rig.shopify.advance(timedelta(minutes=30))

    [sms] = rig.shopify.sms.sent
    assert sms.text.startswith("Hi John: https://cb.example/r/")
    decision = rig.discount_decision(rig.shopify.cart())
    assert decision["reason"] == "discount_failed"
    assert TAKEN_MESSAGE in decision["detail"] and "sent without a discount" in decision["detail"]
    code = sms.text.rsplit("/r/", 1)[1]
    response = rig.shopify.client.get(f"/r/{code}", follow_redirects=False)
    assert response.headers["location"] == checkout["abandoned_checkout_url"]


# --- generic store: codes from the pool -------------------------------------------------------


def _import(rig: Rig, codes: list[str]) -> None:
    with rig.generic.runtime.store.transaction() as tx:
        tx.codes.import_codes("pool", codes, START, None)


def test_a_generic_store_draws_a_code_from_its_pool(rig: Rig) -> None:
    _import(rig, ["POOL-AAAA", "POOL-BBBB"])
    rig.generic.cart("pool", "p1", phone=BOB_PHONE, email=BOB_EMAIL, first_name="Bob", total="300")
    rig.generic.advance(timedelta(minutes=30))

    [sms] = rig.generic.sms.sent
    assert sms.text.startswith("Hi Bob, take 50.00 DKK off with POOL-AAAA: https://cb.example/r/")
    decision = rig.discount_decision(rig.generic.detail("pool", "p1"))
    assert decision["detail"] == "50.00 DKK off with pool code POOL-AAAA (1 left)."
    code = sms.text.rsplit("/r/", 1)[1]
    response = rig.generic.client.get(f"/r/{code}", follow_redirects=False)
    assert response.headers["location"] == "https://pool.example/cart/p1?restore=1"
    with rig.generic.runtime.store.reading() as tx:
        assert tx.codes.remaining("pool", rig.generic.clock.now()) == 1


def test_an_empty_pool_sends_without_a_code(rig: Rig) -> None:
    rig.generic.cart("pool", "p1", phone=BOB_PHONE, email=BOB_EMAIL, first_name="Bob", total="300")
    rig.generic.advance(timedelta(minutes=30))

    [sms] = rig.generic.sms.sent
    assert sms.text.startswith("Hi Bob: https://cb.example/r/")
    decision = rig.discount_decision(rig.generic.detail("pool", "p1"))
    assert decision["reason"] == "discount_pool_empty"
    assert decision["detail"] == "The discount code pool is empty; sent without a discount."


def test_a_basket_with_an_excluded_item_gets_no_code(rig: Rig) -> None:
    _import(rig, ["POOL-AAAA"])
    items = [
        {"title": "Wool scarf", "quantity": 1, "price": "200.00", "tags": ["winter"]},
        {"title": "Gift card", "quantity": 1, "price": "100.00", "tags": ["Gift-Card"]},
    ]
    rig.generic.cart("pool", "p1", phone=BOB_PHONE, email=BOB_EMAIL, total="300", items=items)
    rig.generic.advance(timedelta(minutes=30))

    [sms] = rig.generic.sms.sent
    assert "off with" not in sms.text
    decision = rig.discount_decision(rig.generic.detail("pool", "p1"))
    assert decision["reason"] == "excluded_items"
    assert decision["detail"] == "The basket holds items tagged gift-card, which get no code."
    with rig.generic.runtime.store.reading() as tx:
        assert tx.codes.remaining("pool", rig.generic.clock.now()) == 1


# --- what the discounts cost ------------------------------------------------------------------


def test_the_report_counts_the_discount_of_orders_recovered_by_a_message_with_a_code(
    rig: Rig,
) -> None:
    checkout = rig.shopify.checkout()
    rig.generic.cart("pool", "p1", phone=BOB_PHONE, email=BOB_EMAIL, first_name="Bob", total="300")
    rig.shopify.advance(timedelta(minutes=30))
    [with_code] = [m for m in rig.shopify.sms.sent if m.to == PHONE]
    code = _code_in(with_code.text)

    rig.shopify.clock.advance(timedelta(hours=2))
    applied = [{"code": code, "amount": "42.19", "type": "percentage"}]
    rig.shopify.order(
        checkout, total_price="379.69", total_discounts="42.19", discount_codes=applied
    )
    # The pool was empty: Bob's order used a code from elsewhere, which is not our cost.
    rig.generic.order("pool", "o-bob", email=BOB_EMAIL, total="280", discount_total="20")

    acme = rig.generic.api("/api/report", store="acme")
    assert acme["orders_recovered"] == 1
    assert Decimal(acme["discount_cost"]) == Decimal("42.19")
    assert Decimal(acme["recovered_revenue"]) == Decimal("379.69")
    pool = rig.generic.api("/api/report", store="pool")
    assert pool["orders_recovered"] == 1
    assert Decimal(pool["discount_cost"]) == Decimal("0")


# --- a crash around the Shopify call ----------------------------------------------------------


def test_a_crash_before_shopify_was_called_creates_the_recorded_code_on_the_retry(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.shopify.checkout()
    rig.shopify.clock.advance(timedelta(minutes=30))
    sender = rig.shopify.runtime.scheduler.sender

    def crash(*_args: object) -> None:
        raise RuntimeError("process killed after the code was recorded")

    monkeypatch.setattr(sender, "_settle_code", crash)
    rig.shopify.tick()
    assert rig.admin.requests == [] and rig.shopify.sms.sent == []
    [queued] = rig.shopify.api("/api/messages")
    assert queued["status"] == "queued"

    monkeypatch.undo()
    rig.shopify.advance(timedelta(minutes=6))  # the lease ran out

    [sms] = rig.shopify.sms.sent
    assert sms.id == queued["id"]
    code = _code_in(sms.text)
    assert list(rig.admin.discounts) == [code]
    assert rig.discount_decision(rig.shopify.cart())["reason"] == "ok"


def test_a_crash_after_shopify_created_the_code_sends_that_code_and_makes_no_second(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.shopify.checkout()
    rig.shopify.clock.advance(timedelta(minutes=30))
    issuer = rig.shopify.runtime.scheduler.sender.discounts
    create = issuer.create

    def create_then_crash(*args: Any, **kwargs: Any) -> Any:
        create(*args, **kwargs)
        raise RuntimeError("process killed before Shopify's answer was recorded")

    monkeypatch.setattr(issuer, "create", create_then_crash)
    rig.shopify.tick()
    [created] = list(rig.admin.discounts)
    assert rig.shopify.sms.sent == []

    monkeypatch.undo()
    rig.shopify.advance(timedelta(minutes=6))  # the lease ran out; Shopify says "taken"

    [sms] = rig.shopify.sms.sent
    assert _code_in(sms.text) == created
    assert list(rig.admin.discounts) == [created] and len(rig.admin.requests) == 2
    decision = rig.discount_decision(rig.shopify.cart())
    assert decision["reason"] == "ok" and created in decision["detail"]
