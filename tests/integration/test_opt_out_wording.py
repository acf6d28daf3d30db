"""Opt-out wording where the law or carriers expect it, and HELP answered; on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from cartback.channels.base import InboundMessage
from cartback.domain import sms
from tests.integration.test_policy_rules import (
    ALICE_PHONE,
    MIAMI,
    NO_QUIET_HOURS,
    SMS_ONLY,
    config_yaml,
    flow_yaml,
    open_shop,
    store_yaml,
)

NOON_IN_MIAMI = datetime.fromisoformat("2026-12-01T17:00:00+00:00")  # a Tuesday
LONG = (
    "- send: sms\n  template: 'Hi {{ first_name }}, the wool scarf and the blue mittens you picked "
    "are still in your basket, and we have kept them for you: {{ link }}'\n"
)


def test_a_us_number_gets_reply_stop_counted_in_its_segments(db_url: str, tmp_path: Path) -> None:
    us = {"timezone": "America/New_York", "default_country": "US", "currency": "USD"}
    config = config_yaml(flow_yaml("us-sms", "us", LONG), stores=store_yaml("us", **us))
    with open_shop(db_url, tmp_path, config, NOON_IN_MIAMI) as shop:
        shop.cart("us", "fl", phone=MIAMI, email=None)
        shop.advance(timedelta(minutes=30))
        [message] = shop.sms.sent
        [stored] = shop.detail("us", "fl")["messages"]
    assert message.text.endswith("\nReply STOP to opt out.")
    assert stored["segments"] == sms.analyse(message.text).segments == 2
    assert sms.analyse(message.text.split("\n")[0]).segments == 1  # one without it


def test_elsewhere_the_shop_sets_it_per_country(db_url: str, tmp_path: Path) -> None:
    policy = NO_QUIET_HOURS + "opt_out_text: {DK: 'Afmeld: svar STOP'}\n"
    flows = flow_yaml("north-sms", "north", SMS_ONLY)
    with open_shop(
        db_url, tmp_path, config_yaml(flows, stores=store_yaml("north"), policy=policy)
    ) as shop:
        shop.cart("north", "n1")
        shop.advance(timedelta(minutes=30))
        [message] = shop.sms.sent
    assert message.to == ALICE_PHONE and message.text.endswith("\nAfmeld: svar STOP")


def test_help_is_answered_with_the_shops_name_and_contact(db_url: str, tmp_path: Path) -> None:
    store = store_yaml("north", name="'North Wool'", support_email="help@north.example")
    flows = flow_yaml("north-sms", "north", SMS_ONLY)
    with open_shop(db_url, tmp_path, config_yaml(flows, stores=store)) as shop:
        shop.cart("north", "n1")
        shop.advance(timedelta(minutes=30))
        help_request = InboundMessage(
            "fake-sms", "in-1", ALICE_PHONE, "+4512345678", "help", shop.clock.now()
        )
        shop.runtime.feedback.apply_inbound(help_request)
        answer = shop.sms.sent[-1]
    assert len(shop.sms.sent) == 2
    assert answer.to == ALICE_PHONE and answer.sender == "+4512345678"
    assert answer.text.startswith(
        "North Wool: reminders about your basket. Help: help@north.example."
    )
