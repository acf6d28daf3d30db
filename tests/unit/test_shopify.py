from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from cartback.domain.events import (
    CartDeleted,
    CartUpdated,
    Channel,
    ConsentChanged,
    Event,
    OrderPlaced,
)
from cartback.integrations import shopify
from cartback.integrations.shopify import PayloadError, parse, sign, verify

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
RECEIVED_AT = datetime(2026, 4, 2, 8, 30, tzinfo=UTC)
SECRET = "hush"


def shared(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def local(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse_one(topic: str, body: bytes, default_country: str | None = None) -> Event:
    events = parse(
        topic, body, store_id="demo", default_country=default_country, received_at=RECEIVED_AT
    )
    assert len(events) == 1
    return events[0]


def cart(body: bytes, default_country: str | None = None) -> CartUpdated:
    """The cart of a checkout; the customer record's consent events before it are left out."""
    events = parse(
        "checkouts/update",
        body,
        store_id="demo",
        default_country=default_country,
        received_at=RECEIVED_AT,
    )
    assert isinstance(events[-1], CartUpdated)
    assert all(isinstance(event, ConsentChanged) for event in events[:-1])
    return events[-1]


def order(body: bytes, topic: str = "orders/create") -> OrderPlaced:
    event = parse_one(topic, body)
    assert isinstance(event, OrderPlaced)
    return event


def consent(topic: str, body: bytes, default_country: str | None = None) -> ConsentChanged:
    event = parse_one(topic, body, default_country)
    assert isinstance(event, ConsentChanged)
    return event


# --- signatures -------------------------------------------------------------------------------


def test_a_signed_body_verifies() -> None:
    body = shared("checkouts_create.json")
    assert verify(body, sign(body, SECRET), SECRET)


def test_signature_is_base64_of_hmac_sha256() -> None:
    # HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog"), a published vector.
    expected = "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
    assert sign(b"The quick brown fox jumps over the lazy dog", "key") == expected


def test_wrong_secret_is_refused() -> None:
    body = b'{"token": "abc"}'
    assert not verify(body, sign(body, SECRET), "other")


def test_tampered_body_is_refused() -> None:
    signature = sign(b'{"total_price": "10.00"}', SECRET)
    assert not verify(b'{"total_price": "0.01"}', signature, SECRET)


@pytest.mark.parametrize("header", [None, "", "not base64!!", "@@@@", "ab=c", "æøå"])
def test_missing_or_garbled_header_is_refused_without_raising(header: str | None) -> None:
    assert not verify(b"{}", header, SECRET)


def test_an_empty_secret_verifies_nothing() -> None:
    assert not verify(b"{}", sign(b"{}", ""), "")


# --- checkouts --------------------------------------------------------------------------------


def test_current_checkout_fixture() -> None:
    event = cart(shared("checkouts_create.json"))
    assert event.store_id == "demo"
    assert event.cart_key == "123123123"
    assert event.cart_token == "eeafa272cebfd4b22385bc4b645e762c"
    assert event.total == Decimal("421.88")
    assert event.currency == "USD"
    assert event.occurred_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert event.recovery_url == (
        "https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token"
    )
    assert event.discount_codes == ()


def test_checkout_line_items() -> None:
    items = cart(shared("checkouts_create.json")).items
    assert len(items) == 2
    first = items[0]
    assert (first.title, first.quantity, first.price) == ("IPod Nano - 8GB", 1, Decimal("199.00"))
    assert (first.sku, first.product_id, first.variant_id) == (
        "IPOD2008PINK",
        "632910392",
        "808950810",
    )
    assert first.image_url is None


def test_checkout_customer_and_consent() -> None:
    event = cart(shared("checkouts_create.json"))
    customer = event.customer
    assert customer.email == "example@email.com"  # the checkout's, not the account's
    assert (customer.first_name, customer.last_name) == ("John", "Smith")
    assert customer.country == "US"  # billing address before the customer's default (CA)
    assert customer.external_id == "603851970716743400"  # whatever digits the fixture holds
    assert (event.consent.sms, event.consent.email) == (False, False)


def test_placeholder_address_phones_are_no_phone_at_all() -> None:
    customer = cart(shared("checkouts_create.json")).customer  # 555-555-BILL, 555-555-SHIP
    assert (customer.phone, customer.phone_raw, customer.phone_source) == (None, None, None)


def test_sms_marketing_phone_wins_and_sms_consent_comes_from_checkout() -> None:
    event = cart(local("checkouts_update_sms_opt_in.json"))
    assert event.customer.phone == "+4520123456"
    assert event.customer.phone_raw == "+4520123456"
    assert (event.consent.sms, event.consent.email) == (True, True)


def test_local_number_is_read_in_the_billing_country() -> None:
    event = cart(local("checkouts_create_dk_local_phone.json"), default_country="US")
    assert event.customer.country == "DK"
    assert event.customer.phone == "+4520123456"
    assert event.currency == "DKK"


def test_default_country_applies_when_the_checkout_has_none() -> None:
    body = (
        b'{"token": "t", "line_items": [], "currency": "DKK", "total_price": "1",'
        b' "phone": "20 12 34 56"}'
    )
    customer = cart(body, default_country="DK").customer
    assert (customer.country, customer.phone) == (None, "+4520123456")


def test_older_checkout_with_consent_on_the_customer() -> None:
    event = cart(local("checkouts_update_consent_on_customer.json"))
    assert (event.consent.sms, event.consent.email) == (None, None)  # no box on this checkout
    customer = event.customer
    assert customer.orders_count == 3
    assert customer.total_spent == Decimal("375.30")
    assert customer.tags == ("loyal", "vip")
    assert customer.phone == "+16135551111"  # customer.phone before the billing address


def test_the_checkout_boxes_are_the_cart_consent_and_the_customer_record_is_apart() -> None:
    body = (
        b'{"token": "t", "currency": "USD", "total_price": "1", "line_items": [],'
        b' "buyer_accepts_marketing": false,'
        b' "customer": {"accepts_marketing": true,'
        b' "sms_marketing_consent": {"state": "not_subscribed"}}}'
    )
    assert (cart(body).consent.sms, cart(body).consent.email) == (None, False)


def test_checkout_without_any_consent_says_nothing() -> None:
    body = b'{"token": "t", "line_items": [], "currency": "USD", "total_price": "1"}'
    event = cart(body)
    assert (event.consent.sms, event.consent.email) == (None, None)
    assert event.occurred_at == RECEIVED_AT


def test_line_item_image_and_discount_codes() -> None:
    body = (
        b'{"token": "t", "currency": "USD", "total_price": "9.50",'
        b' "discount_codes": [{"code": "SPRING", "amount": "1.00"}, {"amount": "2.00"}],'
        b' "line_items": [{"title": "Mug", "quantity": 2, "price": "4.75",'
        b' "image": {"src": "https://cdn.example/mug.png"}},'
        b' {"title": "Cup", "quantity": 1, "price": "0", "image_url": "https://cdn.example/cup.png"}]}'
    )
    event = cart(body)
    assert [item.image_url for item in event.items] == [
        "https://cdn.example/mug.png",
        "https://cdn.example/cup.png",
    ]
    assert event.discount_codes == ("SPRING",)


def test_64_bit_ids_stay_exact() -> None:
    body = (
        b'{"token": "t", "currency": "USD", "total_price": "1",'
        b' "customer": {"id": 6038519707167434261},'
        b' "line_items": [{"title": "x", "quantity": 1, "price": "1",'
        b' "product_id": 9223372036854775807, "variant_id": 6038519707167434261}]}'
    )
    event = cart(body)
    assert event.customer.external_id == "6038519707167434261"
    assert event.items[0].product_id == "9223372036854775807"
    assert event.items[0].variant_id == "6038519707167434261"


def test_an_id_written_as_a_float_is_refused() -> None:
    body = b'{"id": 6.038519707167434e18, "currency": "USD", "total_price": "1"}'
    with pytest.raises(PayloadError, match=r"order\.id: .* is not an integer id"):
        order(body)


def test_checkout_create_and_update_read_the_same() -> None:
    body = shared("checkouts_create.json")
    assert parse_one("checkouts/create", body) == parse_one("checkouts/update", body)


# --- deletes ----------------------------------------------------------------------------------


def test_checkout_delete() -> None:
    event = parse_one("checkouts/delete", local("checkouts_delete.json"))
    assert isinstance(event, CartDeleted)
    assert (event.cart_key, event.occurred_at) == ("123123123", RECEIVED_AT)


def test_checkout_delete_2026_04_names_only_the_cart_token() -> None:
    body = b'{"id": 981820079255243537, "cart_token": "eeafa272cebfd4b22385bc4b645e762c"}'
    event = parse_one("checkouts/delete", body)
    assert isinstance(event, CartDeleted)
    assert (event.cart_key, event.cart_token) == (None, "eeafa272cebfd4b22385bc4b645e762c")


def test_checkout_delete_without_token_names_it() -> None:
    with pytest.raises(PayloadError, match=r"^checkout\.token: missing$"):
        parse_one("checkouts/delete", b'{"id": 981820079255243537}')


# --- orders -----------------------------------------------------------------------------------


def test_current_order_fixture() -> None:
    body = shared("orders_create.json")
    fixture_id = re.search(rb'"id": (\d+)', body)
    assert fixture_id is not None
    event = order(body)
    assert event.order_key == fixture_id.group(1).decode() == "820982911946154500"
    assert event.total == Decimal("404.95")
    assert event.currency == "USD"
    assert event.discount_total == Decimal("20.00")
    assert event.occurred_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert (event.cart_key, event.cart_token) == (None, None)
    assert event.paid is False  # financial_status "voided"
    assert event.customer.email == "jon@example.com"
    assert event.customer.external_id == "115310627314723950"


def test_a_cancelled_order_is_still_an_order() -> None:
    assert order(shared("orders_create.json")).order_key == "820982911946154500"


def test_paid_order_with_checkout_token() -> None:
    event = order(local("orders_paid_with_checkout_token.json"))
    assert event.order_key == "6038519707167434261"
    assert event.cart_key == "123123123"
    assert event.cart_token == "eeafa272cebfd4b22385bc4b645e762c"
    assert event.paid is True
    assert event.discount_codes == ("WELCOME20",)


def test_orders_paid_topic_means_paid() -> None:
    assert order(shared("orders_create.json"), topic="orders/paid").paid is True


def test_order_falls_back_to_contact_email_and_current_total() -> None:
    body = b'{"id": 1, "currency": "EUR", "current_total_price": "5.00", "contact_email": "a@b.dk"}'
    event = order(body)
    assert (event.total, event.customer.email) == (Decimal("5.00"), "a@b.dk")


# --- consent topics ---------------------------------------------------------------------------


def test_sms_consent_update() -> None:
    topic = "customers_marketing_consent/update"
    event = consent(topic, local("customers_marketing_consent_update.json"))
    assert event.channel is Channel.SMS
    assert event.granted is True
    assert event.phone == "+4520123456"
    assert event.customer_external_id == "706405506930370084"
    assert event.occurred_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert event.source == "shopify:customers_marketing_consent/update"
    assert event.detail == (
        "sms_marketing_consent.state=subscribed"
        " (opt_in_level=single_opt_in, consent_collected_from=SHOPIFY)"
    )


def test_email_consent_update() -> None:
    topic = "customers_email_marketing_consent/update"
    event = consent(topic, local("customers_email_marketing_consent_update.json"))
    assert event.channel is Channel.EMAIL
    assert event.granted is False
    assert event.email == "bob@biller.com"
    assert event.customer_external_id == "706405506930370084"
    assert event.occurred_at == datetime(2026, 3, 1, 9, 5, tzinfo=UTC)
    assert event.detail == "email_marketing_consent.state=unsubscribed (opt_in_level=single_opt_in)"


def test_consent_without_date_or_valid_phone() -> None:
    body = b'{"id": 7, "phone": "12", "sms_marketing_consent": {"state": "unsubscribed"}}'
    event = consent("customers_marketing_consent/update", body, default_country="DK")
    assert (event.granted, event.phone, event.occurred_at) == (False, None, RECEIVED_AT)
    assert event.detail == "sms_marketing_consent.state=unsubscribed"


def test_consent_without_state_names_the_path() -> None:
    body = b'{"customer_id": 7, "email_marketing_consent": {"opt_in_level": null}}'
    with pytest.raises(PayloadError, match=r"^body\.email_marketing_consent\.state: missing$"):
        consent("customers_email_marketing_consent/update", body)


# --- bad bodies and other topics --------------------------------------------------------------


def test_body_that_is_not_json() -> None:
    with pytest.raises(PayloadError, match=r"^body is not JSON: "):
        parse_one("checkouts/create", b"<html>oops</html>")


def test_body_that_is_not_utf8() -> None:
    with pytest.raises(PayloadError, match=r"^body is not JSON: "):
        parse_one("checkouts/create", b'{"token": "\xff"}')


def test_body_that_is_a_json_array() -> None:
    with pytest.raises(PayloadError, match=r"^body: expected a JSON object, got an array$"):
        parse_one("orders/create", b"[1, 2]")


def test_checkout_without_token() -> None:
    with pytest.raises(PayloadError, match=r"^checkout\.token: missing$"):
        parse_one("checkouts/create", b'{"currency": "USD", "total_price": "1"}')


def test_order_without_id() -> None:
    with pytest.raises(PayloadError, match=r"^order\.id: missing$"):
        order(b'{"currency": "USD", "total_price": "1"}')


def test_bad_line_item_price_names_the_item() -> None:
    body = (
        b'{"token": "t", "currency": "USD", "total_price": "1", "line_items": ['
        b'{"title": "a", "quantity": 1, "price": "1"},'
        b' {"title": "b", "quantity": 1, "price": "abc"}]}'
    )
    with pytest.raises(
        PayloadError, match=r"checkout\.line_items\[1\]\.price: 'abc' is not an amount"
    ):
        cart(body)


def test_timestamp_without_offset_is_refused() -> None:
    body = (
        b'{"token": "t", "currency": "USD", "total_price": "1", "updated_at": "2024-01-01T10:00"}'
    )
    with pytest.raises(PayloadError, match=r"checkout\.updated_at: .* has no UTC offset"):
        cart(body)


def test_unhandled_topic_gives_no_events_and_reads_nothing() -> None:
    events = parse(
        "products/update",
        b"not json",
        store_id="demo",
        default_country=None,
        received_at=RECEIVED_AT,
    )
    assert events == []


def test_handled_topics() -> None:
    handled = shopify.TOPICS
    assert handled == {
        "checkouts/create",
        "checkouts/update",
        "checkouts/delete",
        "orders/create",
        "orders/paid",
        "orders/updated",
        "orders/cancelled",
        "refunds/create",
        "customers_marketing_consent/update",
        "customers_email_marketing_consent/update",
        "customers/data_request",
        "customers/redact",
        "shop/redact",
    }
