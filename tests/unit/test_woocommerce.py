from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cartback.domain.events import (
    CartDeleted,
    CartUpdated,
    Consent,
    Event,
    OrderChanged,
    OrderPlaced,
)
from cartback.domain.orders import OrderStatus, Refund
from cartback.integrations import woocommerce
from cartback.integrations.woocommerce import (
    DELIVERY_HEADER,
    PayloadError,
    StoreContext,
    delivery_key,
    is_ping,
    parse,
    sign,
    verify,
)
from cartback.integrations.woocommerce_cart_recovery import parse_car, url_token, verify_url_token

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce"
LOCAL = Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce"
RECEIVED_AT = datetime(2023, 3, 29, 4, 0, tzinfo=UTC)
SECRET = "wc-secret"
STORE = StoreContext(
    store_id="woo",
    default_country="DK",
    consent_meta_keys=("_sms_marketing_consent", "_email_marketing_consent"),
    recovery_url_template="https://shop.example/cart?restore={cart_id}&e={email}",
    currency="DKK",
)
FORM = "application/x-www-form-urlencoded"


def shared_order() -> bytes:
    return (SAMPLES / "order_created.json").read_bytes()


def local(name: str) -> bytes:
    return (LOCAL / name).read_bytes()


def variant(**changes: Any) -> bytes:
    order = json.loads(shared_order())
    order.update(changes)
    return json.dumps(order).encode()


def parse_one(body: bytes, topic: str = "order.updated", **kwargs: Any) -> Event:
    events = parse(topic, body, store=STORE, received_at=RECEIVED_AT, **kwargs)
    assert len(events) == 1
    return events[0]


def cart(body: bytes, **kwargs: Any) -> CartUpdated:
    event = parse_one(body, **kwargs)
    assert isinstance(event, CartUpdated)
    return event


# --- signatures, ping, deduplication ----------------------------------------------------------


def test_a_signed_body_verifies() -> None:
    body = shared_order()
    assert verify(body, sign(body, SECRET), SECRET)


def test_signature_is_base64_of_hmac_sha256() -> None:
    expected = "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="  # a published HMAC-SHA256 vector
    assert sign(b"The quick brown fox jumps over the lazy dog", "key") == expected


@pytest.mark.parametrize("signature", [None, "", "not base64!", sign(b"other body", SECRET)])
def test_missing_or_bad_signatures_are_refused(signature: str | None) -> None:
    assert not verify(shared_order(), signature, SECRET)


def test_wrong_secret_is_refused() -> None:
    body = shared_order()
    assert not verify(body, sign(body, SECRET), "another")


def test_the_creation_ping_is_recognised() -> None:
    assert is_ping(b"webhook_id=17", FORM)
    assert is_ping(b"webhook_id=17", None)
    assert not is_ping(b'{"webhook_id": 17}', "application/json")
    assert not is_ping(shared_order(), "application/json")


def test_delivery_key_names_delivery_resource_and_modification() -> None:
    key = delivery_key({DELIVERY_HEADER: "abc"}, shared_order())
    assert key == "abc:459:2023-03-29T03:23:02"


def test_same_delivery_id_with_a_new_modification_is_a_new_key() -> None:
    headers = {"x-wc-webhook-delivery-id": "abc"}  # header names are matched in any case
    first = delivery_key(headers, shared_order())
    second = delivery_key(headers, variant(date_modified_gmt="2023-03-29T03:24:10"))
    assert first != second


def test_delivery_key_of_an_unreadable_body_does_not_raise() -> None:
    assert delivery_key({}, b"webhook_id=3").startswith("-:sha256=")


# --- the real order fixture -------------------------------------------------------------------


def test_real_processing_order_is_an_order_placed() -> None:
    event = parse_one(shared_order(), topic="order.created")
    assert isinstance(event, OrderPlaced)
    assert event.order_key == "459"
    assert event.cart_key == "459"
    assert event.total == Decimal("4.00")
    assert event.currency == "USD"
    assert event.paid
    assert event.discount_total == Decimal("0.00")
    assert event.occurred_at == datetime(2023, 3, 29, 3, 23, 2, tzinfo=UTC)
    customer = event.customer
    assert customer.external_id == "27375286"
    assert customer.email == "your.email+fakedata99085@gmail.com"
    assert (customer.first_name, customer.last_name, customer.country) == ("Tyrel", "Senger", "BB")
    assert customer.phone_raw == "724-024-2595"


@pytest.mark.parametrize("status", ["on-hold", "completed", "ready-for-pickup"])
def test_other_order_statuses_place_the_order(status: str) -> None:
    event = parse_one(variant(status=status, date_paid=None, date_paid_gmt=None))
    assert isinstance(event, OrderPlaced)
    assert event.paid is (status == "completed")


def test_a_guest_order_has_no_external_id() -> None:
    event = parse_one(variant(customer_id=0))
    assert isinstance(event, OrderPlaced)
    assert event.customer.external_id is None


# --- carts ------------------------------------------------------------------------------------


def test_checkout_draft_is_a_cart_with_a_built_pay_link() -> None:
    event = cart(local("order_checkout_draft.json"))
    assert event.cart_key == "459"
    assert event.recovery_url == (
        "https://example.com/checkout/order-pay/459/?pay_for_order=true&key=wc_order_boLXJYDMOOhSp"
    )
    assert event.customer.phone == "+4520123456"  # local number read in the billing country
    assert event.customer.country == "DK"
    assert event.consent == Consent()
    assert event.occurred_at == datetime(2023, 3, 29, 3, 22, 10, tzinfo=UTC)


def test_cart_line_items_are_exact() -> None:
    (item,) = cart(local("order_checkout_draft.json")).items
    assert (item.title, item.quantity, item.price) == ("Beanie with Logo", 1, Decimal("18"))
    assert (item.sku, item.product_id, item.variant_id) == ("Woo-beanie-logo", "36", None)
    assert item.image_url == (
        "https://example.com/wp-content/uploads/2023/01/beanie-with-logo-1.jpg"
    )


def test_pending_order_uses_its_payment_url_and_consent_meta() -> None:
    event = cart(local("order_pending_consent.json"))
    assert event.recovery_url == (
        "https://example.com/checkout/order-pay/459/?pay_for_order=true&key=wc_order_boLXJYDMOOhSp"
    )
    assert event.consent == Consent(sms=True, email=False)
    assert event.customer.phone == "+4520123456"
    assert event.discount_codes == ("welcome10",)


def test_the_source_header_builds_the_link_when_the_payload_has_no_links() -> None:
    order = json.loads(local("order_checkout_draft.json"))
    del order["_links"]
    event = cart(json.dumps(order).encode(), source_url="https://shop.example/")
    assert event.recovery_url == (
        "https://shop.example/checkout/order-pay/459/?pay_for_order=true&key=wc_order_boLXJYDMOOhSp"
    )


def test_the_template_is_the_last_resort() -> None:
    order = json.loads(local("order_checkout_draft.json"))
    del order["_links"]
    event = cart(json.dumps(order).encode())
    assert event.recovery_url == (
        "https://shop.example/cart?restore=459&e=your.email%2Bfakedata99085@gmail.com"
    )


def test_a_failed_payment_keeps_the_cart_alive() -> None:
    body = variant(status="failed", date_paid=None, date_paid_gmt=None)
    event, change = parse("order.updated", body, store=STORE, received_at=RECEIVED_AT)
    assert isinstance(event, CartUpdated)
    assert event.recovery_url is not None and "order-pay/459" in event.recovery_url
    # Had the order been placed before, it stops counting as revenue.
    assert isinstance(change, OrderChanged) and change.status == OrderStatus.FAILED


def test_a_draft_without_contact_details_gives_nothing() -> None:
    order = json.loads(local("order_checkout_draft.json"))
    order["billing"].update(email="", phone="")
    order["shipping"].update(phone="")
    assert (
        parse("order.updated", json.dumps(order).encode(), store=STORE, received_at=RECEIVED_AT)
        == []
    )


def test_an_invalid_phone_is_kept_raw() -> None:
    order = json.loads(local("order_checkout_draft.json"))
    order["billing"]["phone"] = "12"
    event = cart(json.dumps(order).encode())
    assert (event.customer.phone, event.customer.phone_raw) == (None, "12")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", True), ("ON", True), ("1", True), (1, True), (True, True), ("no", False),
     ("0", False), ("", False), ("off", False), ("maybe", None), (["yes"], None)],
)  # fmt: skip
def test_consent_meta_values(value: object, expected: bool | None) -> None:
    order = json.loads(local("order_pending_consent.json"))
    for entry in order["meta_data"]:
        if entry["key"] == "_sms_marketing_consent":
            entry["value"] = value
    assert cart(json.dumps(order).encode()).consent.sms is expected


def test_consent_keys_come_from_the_store() -> None:
    store = StoreContext("woo", consent_meta_keys=("sms_ok", "mailchimp_woocommerce_is_subscribed"))
    meta = [{"key": "mailchimp_woocommerce_is_subscribed", "value": "1"}]
    body = variant(status="pending", meta_data=meta)
    (event,) = parse("order.updated", body, store=store, received_at=RECEIVED_AT)
    assert isinstance(event, CartUpdated)
    assert event.consent == Consent(sms=None, email=True)


# --- ends -------------------------------------------------------------------------------------


def test_cancelled_order_deletes_the_cart_and_is_no_longer_revenue() -> None:
    at = datetime(2023, 3, 29, 4, 23, 2, tzinfo=UTC)
    events = parse("order.updated", local("order_cancelled.json"), store=STORE, received_at=at)
    assert events == [
        CartDeleted(store_id="woo", cart_key="459", occurred_at=at),
        OrderChanged(
            store_id="woo",
            order_key="459",
            occurred_at=at,
            source="woocommerce:order.updated",
            status=OrderStatus.CANCELLED,
        ),
    ]


def test_trashed_order_deletes_the_cart() -> None:
    event = parse_one(local("order_trash.json"))
    assert isinstance(event, CartDeleted)
    assert event.cart_key == "459"


def test_order_deleted_topic_carries_only_the_id() -> None:
    event = parse_one(local("order_deleted.json"), topic="order.deleted")
    assert event == CartDeleted(store_id="woo", cart_key="459", occurred_at=RECEIVED_AT)


def test_restored_order_is_read_like_an_update() -> None:
    assert isinstance(parse_one(shared_order(), topic="order.restored"), OrderPlaced)


def test_a_refunded_order_is_taken_out_of_revenue_with_each_refund() -> None:
    refunds = [{"id": 726, "reason": "", "total": "-10.00"}, {"id": 727, "total": "-5.50"}]
    body = variant(status="refunded", refunds=refunds)
    [change] = parse("order.updated", body, store=STORE, received_at=RECEIVED_AT)
    assert isinstance(change, OrderChanged)
    assert change.status == OrderStatus.REFUNDED and change.order_key == "459"
    assert change.refunds == (Refund("726", Decimal("10.00")), Refund("727", Decimal("5.50")))


def test_a_partial_refund_rides_on_the_order() -> None:
    body = variant(status="completed", refunds=[{"id": 726, "total": "-10.00"}])
    order = parse_one(body)
    assert isinstance(order, OrderPlaced) and order.status == OrderStatus.OPEN
    assert order.refunds == (Refund("726", Decimal("10.00")),)


def test_other_topics_give_nothing() -> None:
    assert parse("product.updated", shared_order(), store=STORE, received_at=RECEIVED_AT) == []


def test_a_plugin_status_after_payment_is_an_order() -> None:
    assert isinstance(parse_one(variant(status="shipped")), OrderPlaced)


# --- errors -----------------------------------------------------------------------------------


def test_errors_name_the_json_path() -> None:
    order = json.loads(local("order_checkout_draft.json"))
    order["line_items"][0]["quantity"] = "two"
    with pytest.raises(PayloadError, match=r"order\.line_items\[0\]\.quantity: 'two'"):
        parse("order.updated", json.dumps(order).encode(), store=STORE, received_at=RECEIVED_AT)


def test_a_missing_total_is_named() -> None:
    order = json.loads(shared_order())
    del order["total"]
    with pytest.raises(PayloadError, match=r"^order\.total: missing"):
        parse("order.updated", json.dumps(order).encode(), store=STORE, received_at=RECEIVED_AT)


def test_the_topic_list_is_the_order_topics() -> None:
    assert {
        "order.created",
        "order.updated",
        "order.deleted",
        "order.restored",
    } == woocommerce.TOPICS


# --- the Cart Abandonment Recovery plugin -----------------------------------------------------


def car(name_or_body: str | bytes, content_type: str | None = FORM) -> Event:
    body = local(name_or_body) if isinstance(name_or_body, str) else name_or_body
    events = parse_car(body, content_type, store=STORE, received_at=RECEIVED_AT)
    assert len(events) == 1
    return events[0]


def test_car_abandoned_form_body_is_a_cart() -> None:
    event = car("car_abandoned.form")
    assert isinstance(event, CartUpdated)
    assert event.cart_key == "car:5d41402abc4b2a76b9719d911017c592"
    assert event.recovery_url is not None
    assert event.recovery_url.endswith("&utm_source=cartback")  # esc_url's &#038; undone
    assert event.total == Decimal("543.00")
    assert event.currency == "DKK"
    assert event.customer.phone == "+4520123456"
    assert (event.customer.first_name, event.customer.email) == ("Astrid", "astrid@example.com")
    assert [item.title for item in event.items] == ["Beanie with Logo", "Hoodie & Zip", "T-Shirt"]
    assert {(item.quantity, item.price) for item in event.items} == {(1, Decimal("0"))}
    assert event.discount_codes == ("CARSAVE10",)
    assert event.consent == Consent()
    assert event.occurred_at == RECEIVED_AT


def test_car_completed_closes_the_same_cart() -> None:
    abandoned, completed = car("car_abandoned.form"), car("car_completed.form")
    assert isinstance(completed, OrderPlaced)
    assert isinstance(abandoned, CartUpdated)
    assert completed.cart_key == abandoned.cart_key
    assert completed.total == Decimal("543.00")


def test_car_fields_as_json() -> None:
    body = json.dumps(
        {"order_status": "abandoned", "email": "Bo@Example.com", "cart_total": 99.5,
         "currency": "eur", "product_names": "Mug"}
    ).encode()  # fmt: skip
    event = car(body, "application/json")
    assert isinstance(event, CartUpdated)
    assert event.cart_key == "car:email:bo@example.com"
    assert (event.total, event.currency) == (Decimal("99.5"), "EUR")


def test_car_trigger_sample_button() -> None:
    body = (
        b"first_name=Ada&last_name=Admin&email=ada%40shop.example&phone=20123456"
        b"&order_status=abandoned&checkout_url=https%3A%2F%2Fshop.example%2Fcheckout%2F"
        b"%3Fwcf_ac_token%3Dsomething&coupon_code=abcgefgh"
        b"&product_names=Product1%2C+Product2+%26+Product3&cart_total=%26pound%3B20"
    )
    event = car(body)
    assert isinstance(event, CartUpdated)
    assert event.cart_key == "car:token:something"
    assert event.total == Decimal("20")
    assert event.customer.phone == "+4520123456"
    assert [item.title for item in event.items] == ["Product1", "Product2", "Product3"]


def test_car_without_a_currency_anywhere_is_refused() -> None:
    store = StoreContext("woo")
    with pytest.raises(PayloadError, match=r"^currency: missing"):
        parse_car(local("car_abandoned.form"), FORM, store=store, received_at=RECEIVED_AT)


def test_car_unknown_status_is_named() -> None:
    with pytest.raises(PayloadError, match=r"^order_status: 'normal' is not one of"):
        car(b"order_status=normal&email=a%40b.c&cart_total=1")


def test_car_bad_total_is_named() -> None:
    with pytest.raises(PayloadError, match=r"^cart_total: 'lots' is not an amount"):
        car(b"order_status=abandoned&email=a%40b.c&cart_total=lots")


def test_car_url_token() -> None:
    token = url_token(SECRET, "woo")
    assert verify_url_token(token, SECRET, "woo")
    assert not verify_url_token(token, SECRET, "other-store")
    assert not verify_url_token(None, SECRET, "woo")
    assert SECRET not in token
