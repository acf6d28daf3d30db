"""Strategic discounts through the sender: who gets a code, where it comes from, what it costs.

The same behaviours as tests/integration/test_discounts_engine.py, on the in-memory store: a
Shopify store's code is created through a fake Admin API (after the decide transaction
committed), a generic store's is drawn from its imported pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from cartback.domain.events import LineItem
from tests.fakes.shopify_admin import TAKEN_MESSAGE, FakeShopifyAdmin
from tests.integration.conftest import DOMAIN, START
from tests.integration.test_discounts_engine import FLOWS, SHOPIFY_STORE
from tests.integration.test_policy_rules import BOB_EMAIL, BOB_PHONE, config_yaml, store_yaml
from tests.unit.engine.rig import ALICE_PHONE, Rig, make_rig


@dataclass
class Shops:
    rig: Rig
    admin: FakeShopifyAdmin

    def discount(self, store: str, key: str) -> tuple[str, str]:
        [found] = [d for d in self.rig.decisions(store, key) if d.action == "discount"]
        return found.reason, found.detail

    def link_target(self, text: str) -> str:
        with self.rig.store.reading() as tx:
            link = tx.messages.link(text.rsplit("/r/", 1)[1])
        assert link is not None
        return link.target_url


@pytest.fixture
def shops() -> Shops:
    admin = FakeShopifyAdmin(shop_domain=DOMAIN)
    config = config_yaml(FLOWS, stores=SHOPIFY_STORE + store_yaml("pool"))
    rig = make_rig(config, http_transport=httpx.MockTransport(admin.handle))
    return Shops(rig, admin)


def _code_in(text: str) -> str:
    return text.split(" off with ", 1)[1].split(":", 1)[0]


def _import(rig: Rig, codes: list[str]) -> None:
    with rig.store.transaction() as tx:
        tx.codes.import_codes("pool", codes, START, None)


def _bob(shops: Shops, items: list[LineItem] | None = None) -> None:
    shops.rig.cart(
        "pool", "p1", phone=BOB_PHONE, email=BOB_EMAIL, first_name="Bob", total="300", items=items
    )


# --- Shopify: a code created through the Admin API --------------------------------------------


def test_a_basket_over_the_threshold_gets_a_single_use_code_and_a_link_that_applies_it(
    shops: Shops,
) -> None:
    shops.rig.cart("acme", "c1", total="421.88")
    shops.rig.advance(timedelta(minutes=30))
    [sms] = shops.rig.sms.sent
    assert sms.text.startswith("Hi Alice, take 10% off with BACK-")
    code = _code_in(sms.text)
    created = shops.admin.last_body["variables"]["basicCodeDiscount"]
    assert created["code"] == code and list(shops.admin.discounts) == [code]
    assert created["usageLimit"] == 1 and created["appliesOncePerCustomer"] is True
    assert created["startsAt"] == "2026-11-30T10:30:00Z"
    assert created["endsAt"] == "2026-12-02T10:30:00Z"  # expires_after: 48h
    assert created["customerGets"]["value"] == {"percentage": 0.1}
    target = shops.link_target(sms.text)
    assert target.startswith(f"https://{DOMAIN}/discount/{code}?redirect=")
    assert shops.discount("acme", "c1") == (
        "ok",
        f"10% off with single-use code {code}, valid 2 days.",
    )
    [message] = shops.rig.messages("acme", "c1")
    assert message.discount_code == code and not message.discount_pending


def test_a_basket_under_the_threshold_gets_no_code(shops: Shops) -> None:
    shops.rig.cart("acme", "c1", total="50.00")
    shops.rig.advance(timedelta(minutes=30))
    [sms] = shops.rig.sms.sent
    assert sms.text.startswith("Hi Alice: https://cb.example/r/")
    assert shops.admin.requests == []
    assert shops.discount("acme", "c1") == (
        "below_threshold",
        "Basket 50.00 USD is below the 100 needed for a code.",
    )


def test_a_cart_that_already_carries_a_code_gets_no_second_one(shops: Shops) -> None:
    shops.rig.cart("acme", "c1", total="421.88", discount_codes=["WELCOME10"])
    shops.rig.advance(timedelta(minutes=30))
    [sms] = shops.rig.sms.sent
    assert "off with" not in sms.text and shops.admin.requests == []
    assert shops.discount("acme", "c1")[0] == "already_discounted"


def test_shopify_refusing_the_code_sends_the_message_without_a_discount(
    shops: Shops, monkeypatch: pytest.MonkeyPatch
) -> None:
    shops.admin.existing_codes.add("BACK-2222-3333")
    monkeypatch.setattr("cartback.engine.discounting.make_code", lambda: "BACK-2222-3333")
    shops.rig.cart("acme", "c1", total="421.88")
    shops.rig.advance(timedelta(minutes=30))
    [sms] = shops.rig.sms.sent
    assert sms.text.startswith("Hi Alice: https://cb.example/r/")
    reason, detail = shops.discount("acme", "c1")
    assert reason == "discount_failed"
    assert TAKEN_MESSAGE in detail and "sent without a discount" in detail
    assert shops.link_target(sms.text) == "https://acme.example/cart/c1?restore=1"
    [message] = shops.rig.messages("acme", "c1")
    assert message.discount_code is None and not message.discount_pending


# --- generic store: codes from the pool -------------------------------------------------------


def test_a_generic_store_draws_a_code_from_its_pool(shops: Shops) -> None:
    _import(shops.rig, ["POOL-AAAA", "POOL-BBBB"])
    _bob(shops)
    shops.rig.advance(timedelta(minutes=30))
    [sms] = shops.rig.sms.sent
    assert sms.text.startswith("Hi Bob, take 50.00 DKK off with POOL-AAAA: https://cb.example/r/")
    assert shops.discount("pool", "p1") == (
        "ok",
        "50.00 DKK off with pool code POOL-AAAA (1 left).",
    )
    assert shops.link_target(sms.text) == "https://pool.example/cart/p1?restore=1"
    with shops.rig.store.reading() as tx:
        assert tx.codes.remaining("pool", shops.rig.clock.now()) == 1


def test_an_empty_pool_sends_without_a_code(shops: Shops) -> None:
    _bob(shops)
    shops.rig.advance(timedelta(minutes=30))
    [sms] = shops.rig.sms.sent
    assert sms.text.startswith("Hi Bob: https://cb.example/r/")
    assert shops.discount("pool", "p1") == (
        "discount_pool_empty",
        "The discount code pool is empty; sent without a discount.",
    )


def test_a_basket_with_an_excluded_item_gets_no_code(shops: Shops) -> None:
    _import(shops.rig, ["POOL-AAAA"])
    items = [
        LineItem("Wool scarf", 1, Decimal("200.00"), tags=("winter",)),
        LineItem("Gift card", 1, Decimal("100.00"), tags=("Gift-Card",)),
    ]
    _bob(shops, items)
    shops.rig.advance(timedelta(minutes=30))
    [sms] = shops.rig.sms.sent
    assert "off with" not in sms.text
    assert shops.discount("pool", "p1") == (
        "excluded_items",
        "The basket holds items tagged gift-card, which get no code.",
    )
    with shops.rig.store.reading() as tx:
        assert tx.codes.remaining("pool", shops.rig.clock.now()) == 1


def test_the_report_counts_the_discount_of_orders_won_by_a_message_with_a_code(
    shops: Shops,
) -> None:
    shops.rig.cart("acme", "c1", total="421.88")
    _bob(shops)
    shops.rig.advance(timedelta(minutes=30))
    [with_code] = [m for m in shops.rig.sms.sent if m.to == ALICE_PHONE]
    assert _code_in(with_code.text).startswith("BACK-")
    shops.rig.clock.advance(timedelta(hours=2))
    shops.rig.order("acme", "o-alice", cart_key="c1", total="379.69", discount_total="42.19")
    # The pool was empty: Bob's order used a code from elsewhere, which is not our cost.
    shops.rig.order("pool", "o-bob", email=BOB_EMAIL, total="280", discount_total="20")
    acme = shops.rig.report("acme")
    assert acme.orders_recovered == 1 and acme.discount_cost == Decimal("42.19")
    assert acme.recovered_revenue == Decimal("379.69")
    pool = shops.rig.report("pool")
    assert pool.orders_recovered == 1 and pool.discount_cost == Decimal("0")
