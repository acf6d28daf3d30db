"""The checkout stage a cart reached, from Shopify's checkout fields and the generic `stage`."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from cartback.domain.checkout import ShareTest, Stage, stage_reached
from cartback.domain.events import CartUpdated
from cartback.integrations import generic, magento, shopify, woocommerce
from tests.conftest import FIXTURES

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
_CHECKOUT = json.loads((FIXTURES / "shopify" / "checkouts_create.json").read_text())


def _shopify(**changes: Any) -> CartUpdated:
    payload = copy.deepcopy(_CHECKOUT)
    payload.update(changes)
    events = shopify.parse(
        "checkouts/update",
        json.dumps(payload).encode(),
        store_id="acme",
        default_country="DK",
        received_at=NOW,
    )
    [cart] = [e for e in events if isinstance(e, CartUpdated)]
    return cart


@pytest.mark.parametrize(
    ("changes", "stage"),
    [
        ({"shipping_address": None}, Stage.CONTACT),
        ({}, Stage.SHIPPING_ADDRESS),
        ({"shipping_lines": [{"title": "Standard", "price": "4.90"}]}, Stage.SHIPPING_METHOD),
        ({"shipping_lines": [{"title": "Standard"}], "gateway": "shopify_payments"}, Stage.PAYMENT),
    ],
)
def test_shopify_stage_follows_the_fields_the_buyer_filled(
    changes: dict[str, Any], stage: Stage
) -> None:
    assert _shopify(**changes).trail.stage == stage


def test_shopify_source_landing_and_referring_sites() -> None:
    trail = _shopify(landing_site="/products/mug", referring_site="https://ads.example/").trail
    assert (trail.source_name, trail.landing_site) == ("web", "/products/mug")
    assert trail.referring_site == "https://ads.example/"


def test_generic_carts_say_their_stage() -> None:
    body = {
        "event_id": "e1",
        "type": "cart.updated",
        "occurred_at": NOW.isoformat(),
        "cart": {"id": "c1", "currency": "DKK", "total": "10.00", "stage": "shipping_method"},
        "customer": {"email": "a@example.com"},
    }
    [event] = generic.parse(
        json.dumps(body).encode(), None, store_id="gen", default_country="DK", received_at=NOW
    )
    assert isinstance(event, CartUpdated) and event.trail.stage == Stage.SHIPPING_METHOD
    body["cart"]["stage"] = "dessert"
    with pytest.raises(ValueError, match=r"cart\.stage"):
        generic.parse(
            json.dumps(body).encode(), None, store_id="gen", default_country="DK", received_at=NOW
        )


def test_no_contact_no_stage() -> None:
    reached = stage_reached(
        contact=False, shipping_address=False, shipping_method=False, payment=False
    )
    assert reached is None


def test_a_share_that_rose_is_significant_only_over_enough_carts() -> None:
    spike = ShareTest(now=30, now_total=60, before=150, before_total=1500)
    assert spike.share == 0.5 and spike.baseline == 0.1 and spike.z > 8
    assert spike.rose(threshold=3.0, min_carts=20)
    assert not spike.rose(threshold=3.0, min_carts=100)
    steady = ShareTest(now=6, now_total=60, before=150, before_total=1500)
    assert not steady.rose(threshold=3.0, min_carts=20)


def _woo(**changes: Any) -> CartUpdated:
    order = json.loads((FIXTURES / "woocommerce" / "order_pending_consent.json").read_text())
    order.update(changes)
    store = woocommerce.StoreContext(store_id="woo", default_country="DK")
    events = woocommerce.parse(
        "order.updated", json.dumps(order).encode(), store=store, received_at=NOW
    )
    [cart] = [event for event in events if isinstance(event, CartUpdated)]
    return cart


def test_woocommerce_stage_and_order_attribution() -> None:
    assert _woo().trail.stage == Stage.SHIPPING_METHOD
    assert _woo(shipping_lines=[]).trail.stage == Stage.SHIPPING_ADDRESS
    assert _woo(status="failed").trail.stage == Stage.PAYMENT
    meta = [
        {"key": "_wc_order_attribution_device_type", "value": "Mobile"},
        {"key": "_wc_order_attribution_session_entry", "value": "https://shop.example/sale"},
        {"key": "_wc_order_attribution_referrer", "value": "https://ads.example/"},
    ]
    trail = _woo(meta_data=meta).trail
    assert (trail.source_name, trail.landing_site) == ("Mobile", "https://shop.example/sale")
    assert trail.referring_site == "https://ads.example/"


def test_magento_stage_from_the_quote_shipping_assignment() -> None:
    cart = json.loads((FIXTURES / "magento" / "cart_guest.json").read_text())

    def stage(quote: dict[str, Any]) -> Stage | None:
        [event] = magento.parse_cart(
            quote,
            None,
            store_id="mage",
            default_country="DK",
            recovery_url_template="https://mage.example/{cart_id}",
            received_at=NOW,
        )
        assert isinstance(event, CartUpdated)
        return event.trail.stage

    assert stage(cart) == Stage.CONTACT
    shipping = {"address": {"street": ["Main St 1"]}, "method": "flatrate_flatrate"}
    cart["extension_attributes"] = {"shipping_assignments": [{"shipping": shipping}]}
    assert stage(cart) == Stage.SHIPPING_METHOD
    shipping["method"] = None
    assert stage(cart) == Stage.SHIPPING_ADDRESS
