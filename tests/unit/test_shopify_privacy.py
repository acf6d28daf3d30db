"""Shopify's mandatory privacy webhooks, and the order topics that are stored but not read yet."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cartback.domain.events import (
    CustomerRedactRequested,
    DataRequested,
    DataSubject,
    Event,
    ShopRedactRequested,
)
from cartback.integrations.shopify import PayloadError, parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
RECEIVED_AT = datetime(2026, 4, 2, 8, 30, tzinfo=UTC)
ORDERS = ("299938", "280263", "220458")
JOHN = DataSubject(
    customer_external_id="191167",
    email="john@example.com",
    phone=None,  # Shopify's sample number is a fictional 555 one
    phone_raw="555-625-1199",
    order_keys=ORDERS,
)


def events_of(topic: str, body: bytes, default_country: str | None = "US") -> list[Event]:
    return parse(
        topic, body, store_id="demo", default_country=default_country, received_at=RECEIVED_AT
    )


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_a_data_request_names_the_person_their_orders_and_the_request() -> None:
    (event,) = events_of("customers/data_request", fixture("customers_data_request.json"))

    assert event == DataRequested(
        store_id="demo", occurred_at=RECEIVED_AT, subject=JOHN, request_id="9999"
    )


def test_a_customer_redact_names_the_person_and_the_orders_to_erase() -> None:
    (event,) = events_of("customers/redact", fixture("customers_redact.json"))

    assert event == CustomerRedactRequested(store_id="demo", occurred_at=RECEIVED_AT, subject=JOHN)


def test_the_phone_is_normalised_in_the_stores_country() -> None:
    body = b'{"customer": {"id": 7, "phone": "20 12 34 56"}, "orders_to_redact": []}'
    (event,) = events_of("customers/redact", body, "DK")

    assert isinstance(event, CustomerRedactRequested)
    subject = event.subject
    assert (subject.phone, subject.phone_raw, subject.order_keys) == (
        "+4520123456",
        "20 12 34 56",
        (),
    )


def test_a_shop_redact_names_the_store() -> None:
    (event,) = events_of("shop/redact", fixture("shop_redact.json"))

    assert event == ShopRedactRequested(
        store_id="demo", occurred_at=RECEIVED_AT, shop_domain="{shop}.myshopify.com"
    )


def test_a_redact_without_a_customer_is_refused_naming_it() -> None:
    with pytest.raises(PayloadError, match=r"^body\.customer: missing$"):
        events_of("customers/redact", b'{"shop_id": 954889, "orders_to_redact": []}')


def test_a_redact_of_nobody_is_refused() -> None:
    body = b'{"customer": {"id": null, "email": null, "phone": null}}'
    with pytest.raises(PayloadError, match=r"^body\.customer\.id: missing, and so are"):
        events_of("customers/redact", body)


def test_order_ids_stay_exact_and_a_bad_one_is_named() -> None:
    body = json.dumps(
        {"customer": {"id": 6038519707167434261}, "orders_to_redact": [9223372036854775807]}
    ).encode()
    (event,) = events_of("customers/redact", body)
    assert isinstance(event, CustomerRedactRequested)
    assert (event.subject.customer_external_id, event.subject.order_keys) == (
        "6038519707167434261",
        ("9223372036854775807",),
    )

    bad = b'{"customer": {"id": 1}, "orders_to_redact": [1, 2.5]}'
    with pytest.raises(PayloadError, match=r"^body\.orders_to_redact\[1\]: .* not an integer id"):
        events_of("customers/redact", bad)
