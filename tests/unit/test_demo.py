from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from cartback.demo import (
    Scenario,
    Shopper,
    checkout_payload,
    danish_mobile,
    link_path,
    new_shopper,
    order_payload,
    outbox_sms,
    report_line,
)
from cartback.domain.events import CartUpdated, OrderPlaced
from cartback.domain.phone import normalize_phone
from cartback.integrations.shopify import parse

RECEIVED_AT = datetime(2026, 4, 2, 8, 30, tzinfo=UTC)
STARTED = datetime(2026, 4, 2, 10, 29, 50, tzinfo=ZoneInfo("Europe/Copenhagen"))


def shopper(scenario: Scenario, seed: int = 7) -> Shopper:
    return new_shopper(random.Random(seed), 1, scenario, STARTED)


def body(payload: dict[str, object]) -> bytes:
    return json.dumps(payload).encode("utf-8")


def parsed_checkout(who: Shopper) -> CartUpdated:
    events = parse(
        "checkouts/create",
        body(checkout_payload(who, STARTED + timedelta(seconds=1))),
        store_id="demo",
        default_country="DK",
        received_at=RECEIVED_AT,
    )
    assert len(events) == 1 and isinstance(events[0], CartUpdated)
    return events[0]


@pytest.mark.parametrize("scenario", list(Scenario))
def test_checkout_parses_with_the_shoppers_phone_total_and_consent(scenario: Scenario) -> None:
    who = shopper(scenario)
    cart = parsed_checkout(who)

    assert cart.cart_key == who.token
    assert cart.customer.phone == who.phone
    assert cart.customer.email == who.email
    assert cart.consent.sms is (scenario != Scenario.NO_CONSENT)
    assert cart.currency == "DKK"
    assert cart.total == sum((i.price * i.quantity for i in cart.items), Decimal("0"))
    assert cart.total == who.total
    assert cart.recovery_url is not None
    assert cart.recovery_url.startswith(f"https://demo-shop.example/checkouts/{who.token}/recover?")
    assert cart.occurred_at == STARTED + timedelta(seconds=1)


def test_baskets_hold_one_to_three_products_at_exact_prices() -> None:
    for seed in range(50):
        who = shopper(Scenario.BUYS, seed)
        assert 1 <= len(who.basket) <= 3
        assert all(
            line.product.price == line.product.price.quantize(Decimal("0.01"))
            for line in who.basket
        )
        assert Decimal(checkout_payload(who, STARTED)["total_price"]) == who.total


def test_order_parses_and_points_at_the_checkout() -> None:
    who = shopper(Scenario.RETURNS)
    events = parse(
        "orders/create",
        body(order_payload(who, STARTED + timedelta(seconds=20))),
        store_id="demo",
        default_country="DK",
        received_at=RECEIVED_AT,
    )

    assert len(events) == 1 and isinstance(events[0], OrderPlaced)
    order = events[0]
    assert order.cart_key == who.token
    assert order.cart_token == who.cart_token
    assert order.order_key == str(who.order_id)
    assert order.total == who.total
    assert order.paid
    assert order.customer.phone == who.phone


def test_order_ids_survive_json_as_64_bit_integers() -> None:
    who = shopper(Scenario.BUYS)
    assert who.order_id >= 2**53  # beyond a float's exact range, so it must stay an int
    assert json.loads(body(order_payload(who, STARTED)))["id"] == who.order_id


def test_generated_phone_numbers_are_valid_danish_mobiles() -> None:
    rng = random.Random(1)
    for _ in range(500):
        written = danish_mobile(rng)
        assert written.startswith("+45 2")
        assert normalize_phone(written, "DK") == written.replace(" ", "")


def test_emails_are_ascii_at_example_com() -> None:
    for seed in range(50):
        email = shopper(Scenario.IGNORES, seed).email
        assert email.endswith("@example.com")
        assert email.isascii()


def test_link_path_takes_only_the_short_link_path() -> None:
    text = "Hi Søren, your basket at Demo Shop is saved: http://127.0.0.1:8000/r/aB3_x-Yz9Q"
    assert link_path(text) == "/r/aB3_x-Yz9Q"
    assert link_path("Saved: https://cart.example.com/r/Zz12.") == "/r/Zz12"
    assert link_path("No link in this one.") is None


def test_outbox_lines_give_recipient_and_text_of_sms_only() -> None:
    line = json.dumps(
        {
            "message_id": "m1",
            "channel": "sms",
            "to": "+4520123456",
            "from": "DemoShop",
            "text": "Hi, your basket: http://127.0.0.1:8000/r/abc",
            "sent_at": "2026-04-02T08:30:00+00:00",
        }
    )
    assert outbox_sms(line) == ("+4520123456", "Hi, your basket: http://127.0.0.1:8000/r/abc")
    assert outbox_sms(json.dumps({"channel": "email", "to": "a@example.com", "text": "x"})) is None
    assert outbox_sms("not json") is None


def test_report_line() -> None:
    report = {
        "currency": "DKK",
        "carts_abandoned": 7,
        "messages_sent": 5,
        "sms_segments": 5,
        "spend": "1.50",
        "orders_recovered": 2,
        "recovered_revenue": "1798.00",
        "roas": "1198.67",
    }
    assert report_line(report) == (
        "[demo] abandoned 7 | sent 5 SMS (5 segments) | spend 1.50 DKK"
        " | recovered 2 orders, 1,798.00 DKK | ROAS 1198.67x"
    )
    assert report_line({**report, "roas": None}).endswith("| ROAS -")
