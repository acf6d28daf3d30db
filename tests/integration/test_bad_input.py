"""Hostile and unlucky webhook bodies, per platform, on both databases.

Every probe of issue 14.1 is posted to each platform's endpoint. What a shop owner would see is
checked: a 400 that names the field, the raw delivery kept as `failed` (so it shows in the failed
list and can be replayed once the shop is fixed), and no cart. Both databases answer the same.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from cartback.integrations import generic, woocommerce
from tests.integration import test_platforms
from tests.integration.test_platforms import (
    FORM,
    GEN_SECRET,
    Cartback,
    MagentoPlatform,
    generic_cart,
    post_generic,
    post_magento,
    post_shopify,
    post_woo,
    woo_order,
)
from tests.integration.test_platforms import shopify_checkout as shopify_cart

Path = tuple[str | int, ...]
cb = test_platforms.cb  # the fixture: a cartback with a store of every platform


@dataclass(frozen=True)
class Shape:
    """Where one platform's payload keeps each probed value (several places: all are set)."""

    store: str
    make: Callable[[Cartback], dict[str, Any]]
    post: Callable[[Cartback, dict[str, Any]], httpx.Response]
    fields: dict[str, list[Path]]


def _magento_quote(cb: Cartback) -> dict[str, Any]:
    quote = MagentoPlatform()._quote("501", cb.clock.now(), "16.00")
    return {"cart": quote}


SHAPES = {
    "shopify": Shape(
        "acme",
        lambda cb: shopify_cart(cb.clock.now(), token="t-1"),
        lambda cb, body: post_shopify(cb, "checkouts/update", body),
        {
            "first_name": [("customer", "first_name"), ("billing_address", "first_name")],
            "email": [("email",), ("customer", "email")],
            "cart_key": [("token",)],
            "phone_raw": [("sms_marketing_phone",)],
            "external_id": [("customer", "id")],
            "currency": [("currency",), ("presentment_currency",)],
            "total": [("total_price",)],
            "occurred_at": [("updated_at",), ("created_at",)],
        },
    ),
    "woocommerce": Shape(
        "woo",
        lambda cb: woo_order(cb.clock.now()),
        lambda cb, body: post_woo(cb, "order.updated", body),
        {
            "first_name": [("billing", "first_name"), ("shipping", "first_name")],
            "email": [("billing", "email")],
            "cart_key": [("id",)],
            "phone_raw": [("billing", "phone")],
            "external_id": [("customer_id",)],
            "currency": [("currency",)],
            "total": [("total",)],
            "occurred_at": [("date_modified_gmt",), ("date_modified",)],
        },
    ),
    "generic": Shape(
        "gen",
        lambda cb: generic_cart(cb.clock.now()),
        lambda cb, body: post_generic(cb, "gen", body),
        {
            "first_name": [("customer", "first_name")],
            "email": [("customer", "email")],
            "cart_key": [("cart", "id")],
            "phone_raw": [("customer", "phone")],
            "external_id": [("customer", "id")],
            "currency": [("cart", "currency")],
            "total": [("cart", "total")],
            "occurred_at": [("occurred_at",)],
        },
    ),
    "magento": Shape(
        "mage",
        _magento_quote,
        lambda cb, body: post_magento(cb, "checkout_cart_save_after", body),
        {
            "first_name": [
                ("cart", "customer", "firstname"),
                ("cart", "billing_address", "firstname"),
            ],
            "email": [("cart", "customer", "email"), ("cart", "billing_address", "email")],
            "cart_key": [("cart", "id")],
            "phone_raw": [("cart", "billing_address", "telephone")],
            "external_id": [("cart", "customer", "id")],
            "currency": [("cart", "currency", "quote_currency_code")],
            "total": [("cart", "items", 0, "price")],
            "occurred_at": [("cart", "updated_at")],
        },
    ),
}

LONG_EMAIL = "a" * 320 + "@example.com"
# (probe, the value's role in the payload, the value, what the answer's message names)
PROBES: list[tuple[str, str, Any, str]] = [
    ("first-name-over-200", "first_name", "N" * 201, "first_name"),
    ("email-over-320", "email", LONG_EMAIL, "email"),
    ("token-over-255", "cart_key", "t" * 256, "cart_key"),
    ("raw-phone-over-64", "phone_raw", "1" * 65, "phone_raw"),
    ("id-over-64", "external_id", "9" * 65, "external_id"),
    ("currency-over-3", "currency", "DKKK", "currency"),
    ("currency-not-iso-4217", "currency", "ABC", "currency"),
    ("nul-character", "first_name", "Ast\x00rid", "first_name"),
    ("lone-surrogate", "first_name", "\ud800", "first_name"),
    ("total-1e40", "total", "1e40", "total"),
    ("negative-total", "total", "-5.00", "total"),
    ("calendar-limit", "occurred_at", "0001-01-01T00:00:00+01:00", "outside the calendar"),
]


def _set(payload: dict[str, Any], path: Path, value: Any) -> None:
    node: Any = payload
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _probe_id(probe: tuple[str, str, Any, str]) -> str:
    return probe[0]


def _check_refused(cb: Cartback, store: str, response: httpx.Response, names: str) -> None:
    """The delivery kept as failed naming the field (listed as such), and no cart. A body that
    is no JSON object at all is a 400 at once; a bad field is found after the answer (200)."""
    [failed] = cb.deliveries(status="failed")
    assert names in failed["error"], failed
    if response.status_code == 400:
        answer = response.json()
        assert answer["error"]["code"] == "unreadable_body"
        assert names in answer["error"]["message"], answer
        assert failed["id"] == answer["delivery_id"]
    else:
        assert response.status_code == 200, response.text
    assert cb.deliveries(status="received") == []
    assert cb.carts(store) == []


@pytest.mark.parametrize("platform", list(SHAPES))
@pytest.mark.parametrize("probe", PROBES, ids=_probe_id)
def test_a_bad_value_is_a_400_naming_it_and_a_failed_delivery(
    cb: Cartback, platform: str, probe: tuple[str, str, Any, str]
) -> None:
    _name, role, value, names = probe
    shape = SHAPES[platform]
    if platform == "magento":
        cb.grant_sms("mage")
    payload = copy.deepcopy(shape.make(cb))
    value = _typed(platform, role, value)
    for path in shape.fields[role]:
        _set(payload, path, value)
    _check_refused(cb, shape.store, shape.post(cb, payload), names)


def _typed(platform: str, role: str, value: Any) -> Any:
    """Ids that the platform sends as numbers are probed as numbers."""
    if role in {"cart_key", "external_id"} and platform in {"woocommerce", "magento"}:
        return int("9" * 300) if role == "cart_key" else int(value)
    if role == "total" and platform == "magento":
        return float(value)
    return value


NESTED = b"[" * 100_000 + b"]" * 100_000
OBJECTS = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


@pytest.mark.parametrize("platform", list(SHAPES))
@pytest.mark.parametrize("body", [NESTED, OBJECTS], ids=["arrays", "objects"])
def test_deep_nesting_is_a_400_and_a_failed_delivery(
    cb: Cartback, platform: str, body: bytes
) -> None:
    response = _post_raw(cb, platform, body)
    if platform == "magento":  # an unreadable Commerce body still answers, as Commerce needs
        assert response.status_code in {200, 400}, response.text
        return
    _check_refused(cb, SHAPES[platform].store, response, "nests deeper")


def _post_raw(cb: Cartback, platform: str, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if platform == "shopify":
        from cartback.integrations import shopify

        headers |= {
            shopify.TOPIC_HEADER: "checkouts/update",
            shopify.SHOP_DOMAIN_HEADER: "acme.myshopify.com",
            shopify.HMAC_HEADER: shopify.sign(body, "shpss_test_secret"),
            shopify.WEBHOOK_ID_HEADER: uuid.uuid4().hex,
        }
        return cb.client.post("/webhooks/shopify", content=body, headers=headers)
    if platform == "woocommerce":
        headers |= {
            woocommerce.TOPIC_HEADER: "order.updated",
            woocommerce.DELIVERY_HEADER: uuid.uuid4().hex,
            woocommerce.SIGNATURE_HEADER: woocommerce.sign(body, "woo-webhook-secret"),
        }
        return cb.client.post("/webhooks/woocommerce/woo", content=body, headers=headers)
    if platform == "generic":
        stamp = int(cb.clock.now().timestamp())
        headers[generic.SIGNATURE_HEADER] = generic.sign(body, GEN_SECRET, stamp)
        return cb.client.post("/webhooks/generic/gen", content=body, headers=headers)
    return cb.client.post("/webhooks/magento/mage", content=body, headers=headers)


def test_generic_form_keys_nested_50k_deep_are_a_400(cb: Cartback) -> None:
    key = "cart" + ".a" * 50_000
    body = f"{key}=1&type=cart.updated".encode()
    stamp = int(cb.clock.now().timestamp())
    signature = generic.sign(body, GEN_SECRET, stamp)
    headers = {"Content-Type": FORM, generic.SIGNATURE_HEADER: signature}
    response = cb.client.post("/webhooks/generic/gen", content=body, headers=headers)
    _check_refused(cb, "gen", response, "nests deeper")


@pytest.mark.parametrize("stamp", ["²", "9" * 5000], ids=["superscript-two", "5000-digits"])
def test_generic_signature_with_an_unreadable_time_is_a_401(cb: Cartback, stamp: str) -> None:
    body = json.dumps(generic_cart(cb.clock.now())).encode()
    header = generic.sign(body, GEN_SECRET, 1).replace("t=1", f"t={stamp}")
    response = cb.client.post(
        "/webhooks/generic/gen",
        content=body,
        headers={"Content-Type": "application/json", generic.SIGNATURE_HEADER: header.encode()},
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "bad_signature"
    assert cb.deliveries() == []


def test_a_topic_longer_than_its_column_is_refused_and_nothing_stored(cb: Cartback) -> None:
    body = json.dumps(woo_order(cb.clock.now())).encode()
    headers = {
        "Content-Type": "application/json",
        woocommerce.TOPIC_HEADER: "order." + "x" * 200,
        woocommerce.DELIVERY_HEADER: uuid.uuid4().hex,
        woocommerce.SIGNATURE_HEADER: woocommerce.sign(body, "woo-webhook-secret"),
    }
    response = cb.client.post("/webhooks/woocommerce/woo", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert "topic" in response.json()["error"]["message"]
    assert cb.deliveries() == []


def test_a_good_body_after_the_probes_is_still_processed(cb: Cartback) -> None:
    """The refusals leave nothing half-done: the next good delivery goes through."""
    _check_refused(cb, "gen", post_generic(cb, "gen", _with_name("\ud800")), "first_name")
    assert post_generic(cb, "gen", _with_name("Astrid")).status_code == 200
    assert [c["cart_key"] for c in cb.carts("gen")] == ["c-1"]


def _with_name(name: str) -> dict[str, Any]:
    cart = generic_cart(datetime.fromisoformat("2026-11-30T10:00:00+00:00"))
    cart["customer"]["first_name"] = name
    return cart


def test_a_signed_checkout_reposted_as_a_delete_is_refused(cb: Cartback) -> None:
    """The topic header is not signed: a checkout body under `checkouts/delete` is a 400, and
    the cart stays."""
    checkout = shopify_cart(cb.clock.now(), token="t-1")
    assert post_shopify(cb, "checkouts/create", checkout).status_code == 200
    response = post_shopify(cb, "checkouts/delete", checkout)
    assert response.status_code == 200, response.text  # read after the answer
    [failed] = cb.deliveries(status="failed")
    assert "checkouts/delete body carries only ids" in failed["error"]
    [cart] = cb.carts("acme")
    assert cart["status"] == "open"
    assert [d["status"] for d in cb.deliveries()] == ["failed", "processed"]


def test_a_delete_body_posted_as_an_update_is_refused(cb: Cartback) -> None:
    response = post_shopify(cb, "checkouts/update", {"id": 1, "token": "t-1", "cart_token": "c"})
    assert response.status_code == 200, response.text  # read after the answer
    assert [d["status"] for d in cb.deliveries()] == ["failed"]
    assert cb.carts("acme") == []
