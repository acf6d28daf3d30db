"""Magento: parsing real carts, totals and orders, the webhook bodies, and the REST client."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from cartback.domain.events import CartDeleted, CartUpdated, OrderPlaced
from cartback.integrations import magento
from cartback.integrations.magento_client import (
    MagentoClient,
    MagentoError,
    MagentoUnavailable,
)
from tests.conftest import FIXTURES
from tests.fakes.magento import FakeMagento

RECEIVED = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
TEMPLATE = "https://shop.example/checkout/cart/recover?id={cart_id}&email={email}"
STORE = magento.MagentoStore("shop", "DK", TEMPLATE)


def _shared(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "magento" / name).read_text())
    return data


def _local(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "magento" / name).read_text())
    return data


CART = _shared("cart_get_mine.json")
TOTALS = _shared("cart_shipping_information_totals.json")["totals"]


def _cart(cart: dict[str, Any], totals: dict[str, Any] | None = TOTALS) -> CartUpdated:
    events = magento.parse_cart(
        cart,
        totals,
        store_id="shop",
        default_country="DK",
        recovery_url_template=TEMPLATE,
        received_at=RECEIVED,
    )
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, CartUpdated)
    return event


# --- carts ------------------------------------------------------------------------------------


def test_registered_customer_cart_from_the_docs() -> None:
    event = _cart(CART)
    assert event.cart_key == "5"
    assert event.occurred_at == datetime(2017, 9, 15, 16, 15, 54, tzinfo=UTC)
    assert (event.currency, event.total) == ("USD", Decimal("165"))
    assert event.customer.email == "mshaw@example.com"
    assert (event.customer.first_name, event.customer.last_name) == ("Melanie", "Shaw")
    assert event.customer.external_id == "2"
    assert event.customer.country == "US"
    assert event.customer.phone == "+14155551212"  # 415-555-1212 read as a US number
    assert [(i.sku, i.quantity, i.price) for i in event.items] == [
        ("24-UG02", 15, Decimal("16")),
        ("24-UG03", 10, Decimal("22")),
    ]
    assert event.recovery_url == (
        "https://shop.example/checkout/cart/recover?id=5&email=mshaw%40example.com"
    )


def test_a_quote_says_nothing_about_consent() -> None:
    assert _cart(CART).consent.sms is None
    assert _cart(CART).consent.email is None


def test_newsletter_subscription_on_the_customer_counts_as_email_consent() -> None:
    cart = copy.deepcopy(CART)
    cart["customer"]["extension_attributes"]["is_subscribed"] = True
    assert _cart(cart).consent.email is True
    assert _cart(cart).consent.sms is None


def test_guest_cart_reads_the_email_on_the_quote_and_a_local_phone() -> None:
    event = _cart(_local("cart_guest.json"), None)
    assert event.cart_key == "7"
    assert event.customer.email == "guest.buyer@example.com"
    assert event.customer.external_id is None
    assert event.customer.phone == "+4520123456"
    assert event.customer.first_name == "Freja"
    assert event.currency == "DKK"
    assert event.total == Decimal("460")  # no totals: the items' sum


def _parsed(cart: dict) -> list:
    return magento.parse_cart(
        cart,
        TOTALS,
        store_id="s",
        default_country=None,
        recovery_url_template=None,
        received_at=RECEIVED,
    )


def test_an_inactive_cart_gives_nothing_its_order_closes_it() -> None:
    assert _parsed({**CART, "is_active": False}) == []


def test_an_emptied_cart_is_deleted_so_pending_steps_stop() -> None:
    [event] = _parsed({**CART, "items": [], "items_count": 0})
    assert isinstance(event, CartDeleted)
    assert event.cart_key == str(CART["id"])


def test_items_come_from_the_totals_when_the_search_left_them_out() -> None:
    cart = {**CART, "items": []}
    event = _cart(cart)
    assert event.items[0].title == "Radiant Tee-M-Orange"
    assert len(event.items) == 4


def test_invalid_phone_is_kept_raw_with_its_field() -> None:
    cart = copy.deepcopy(CART)
    cart["billing_address"]["telephone"] = "+45 2012"
    customer = _cart(cart).customer
    assert (customer.phone, customer.phone_raw) == (None, "+45 2012")
    assert customer.phone_source == "billing_address.telephone"


def test_words_where_a_phone_should_be_are_no_phone() -> None:
    cart = copy.deepcopy(CART)
    cart["billing_address"]["telephone"] = "call me"
    customer = _cart(cart).customer
    assert (customer.phone, customer.phone_raw, customer.phone_source) == (None, None, None)


def test_stored_poll_delivery_parses_the_same() -> None:
    body = json.dumps({"cart": CART, "totals": TOTALS}).encode()
    [event] = magento.parse(magento.CART_TOPIC, body, STORE, RECEIVED)
    assert event == _cart(CART)


def test_unreadable_timestamp_names_the_path() -> None:
    body = json.dumps({"cart": {**CART, "updated_at": "yesterday"}}).encode()
    with pytest.raises(magento.PayloadError, match=r"cart\.updated_at"):
        magento.parse(magento.CART_TOPIC, body, STORE, RECEIVED)


# --- orders -----------------------------------------------------------------------------------


def test_order_closes_its_quote() -> None:
    order = magento.parse_order(
        _local("order.json"), store_id="shop", default_country="DK", received_at=RECEIVED
    )
    assert isinstance(order, OrderPlaced)
    assert order.order_key == "000000031"
    assert order.cart_key == "5"
    assert (order.total, order.currency) == (Decimal("455"), "USD")
    assert order.occurred_at == datetime(2017, 9, 15, 16, 40, 12, tzinfo=UTC)
    assert order.customer.email == "mshaw@example.com"
    assert order.customer.phone == "+14155551212"
    assert order.discount_codes == ("WELCOME10",)
    assert order.discount_total == Decimal("10")
    assert order.paid is False


# --- webhooks ---------------------------------------------------------------------------------


def _webhook(event: str, data: dict[str, Any]) -> bytes:
    return json.dumps({"eventName": event, "data": data}).encode()


def test_webhook_cart_save_after_reads_the_quote_of_the_cart_model() -> None:
    quote = {**CART, "entity_id": 5, "grand_total": 165}
    quote.pop("id")
    body = _webhook("checkout_cart_save_after", {"cart": {"quote": quote}})
    [event] = magento.parse_webhook(body, STORE, RECEIVED)
    assert isinstance(event, CartUpdated)
    assert (event.cart_key, event.total) == ("5", Decimal("165"))


def test_webhook_order_place_after_with_addresses_list() -> None:
    order = _local("order.json")
    order.pop("entity_id")  # not saved yet when sales_order_place_after fires
    order.pop("created_at")
    order["addresses"] = [{**order.pop("billing_address")}]
    body = _webhook("sales_order_place_after", {"order": order})
    [event] = magento.parse_webhook(body, STORE, RECEIVED)
    assert isinstance(event, OrderPlaced)
    assert (event.order_key, event.cart_key) == ("000000031", "5")
    assert event.occurred_at == RECEIVED
    assert event.customer.phone == "+14155551212"


def test_webhook_of_another_event_gives_nothing() -> None:
    body = _webhook("catalog_product_save_after", {"product": {"sku": "x"}})
    assert magento.parse_webhook(body, STORE, RECEIVED) == []


def test_webhook_signature_is_rsa_sha256_of_the_base64_body() -> None:
    fake = FakeMagento()
    body = _webhook("sales_order_place_after", {"order": _local("order.json")})
    signature = fake.sign(body)
    assert magento.verify_webhook(body, signature, fake.public_key_pem)
    assert not magento.verify_webhook(body + b" ", signature, fake.public_key_pem)
    assert not magento.verify_webhook(body, None, fake.public_key_pem)
    assert not magento.verify_webhook(body, "not base64!", fake.public_key_pem)
    assert not magento.verify_webhook(body, signature, "not a key")


# --- the client -------------------------------------------------------------------------------


def _client(fake: FakeMagento, token: str = "magento-test-token") -> MagentoClient:
    return MagentoClient(
        "https://shop.example/rest", token, transport=httpx.MockTransport(fake.handle)
    )


def test_search_sends_magentos_search_criteria() -> None:
    fake = FakeMagento()
    fake.add_cart(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    page = _client(fake).search_carts(datetime(2026, 11, 30, 8, 0, tzinfo=UTC), 1, 50)
    assert page.total_count == 1
    query = dict(httpx.QueryParams(fake.requests[0].url.query))
    assert query["searchCriteria[filter_groups][2][filters][0][field]"] == "updated_at"
    assert query["searchCriteria[filter_groups][2][filters][0][value]"] == "2026-11-30 08:00:00"
    assert query["searchCriteria[filter_groups][2][filters][0][condition_type]"] == "gteq"
    assert query["searchCriteria[filter_groups][1][filters][0][condition_type]"] == "gt"
    assert query["searchCriteria[sortOrders][0][field]"] == "updated_at"
    assert query["searchCriteria[pageSize]"] == "50"
    assert fake.requests[0].headers["Authorization"] == "Bearer magento-test-token"


def test_fake_clamps_a_page_beyond_the_last_like_magento() -> None:
    fake = FakeMagento()
    for minute in range(3):
        fake.add_cart(datetime(2026, 11, 30, 9, minute, tzinfo=UTC))
    page = _client(fake).search_carts(datetime(2026, 11, 30, 8, 0, tzinfo=UTC), 9, 2)
    assert (page.last_page, [c["updated_at"][-5:] for c in page.carts]) == (2, ["02:00"])


def test_bad_token_is_an_error_that_does_not_show_it() -> None:
    with pytest.raises(MagentoError) as raised:
        _client(FakeMagento(), token="wrong-secret-token").cart_totals("5")
    assert raised.value.status == 401
    assert "access token" in str(raised.value)
    assert "wrong-secret-token" not in str(raised.value)
    assert not isinstance(raised.value, MagentoUnavailable)


def test_throttling_and_server_errors_are_unavailable_with_retry_hint() -> None:
    fake = FakeMagento()
    fake.fail(429, retry_after=120)
    fake.fail(503)
    client = _client(fake)
    with pytest.raises(MagentoUnavailable) as throttled:
        client.search_orders(RECEIVED, 1, 10)
    assert (throttled.value.status, throttled.value.retry_after) == (429, 120.0)
    with pytest.raises(MagentoUnavailable) as down:
        client.search_orders(RECEIVED, 1, 10)
    assert (down.value.status, down.value.retry_after) == (503, None)


def test_connection_errors_and_timeouts_are_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    for handler in (refuse, slow):
        client = MagentoClient("https://x/rest", "t", transport=httpx.MockTransport(handler))
        with pytest.raises(MagentoUnavailable):
            client.cart_totals("1")


def test_answer_of_the_wrong_shape_is_an_error() -> None:
    def odd(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [{"id": 1}], "total_count": 1})

    client = MagentoClient("https://x/rest", "t", transport=httpx.MockTransport(odd))
    with pytest.raises(MagentoError, match="updated_at"):
        client.search_carts(RECEIVED, 1, 10)


def test_fake_serves_real_http() -> None:
    fake = FakeMagento()
    cart = fake.add_cart(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    with fake.serve() as base_url, MagentoClient(base_url, fake.token) as client:
        totals = client.cart_totals(str(cart["id"]))
    assert totals.grand_total == Decimal("21")  # 16.00 + 5 shipping
    assert totals.currency == "DKK"
