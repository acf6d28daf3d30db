"""Money leaves cartback in its currency's minor units; phones in explanations are masked."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from cartback.domain.money import Money, in_minor_units, minor_units, ratio
from cartback.domain.phone import PhoneChoice, choose_phone, is_phone_text
from cartback.domain.redact import mask_phone_text
from cartback.domain.segments import Bounds, Compare
from tests.unit.test_segments import FACTS


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("0.3000", "DKK", "0.30"),  # what PostgreSQL's NUMERIC(18,4) gives back
        ("0.30", "DKK", "0.30"),  # what SQLite gives back
        ("0.0525", "EUR", "0.05"),
        ("0.005", "USD", "0.01"),  # half up, as shops round
        ("1200.0000", "JPY", "1200"),
        ("1.5", "KWD", "1.500"),
        ("7", None, "7.00"),
        ("12.3", "xyz", "12.30"),  # unknown: two decimals
    ],
)
def test_amounts_in_minor_units(amount: str, currency: str | None, shown: str) -> None:
    assert str(in_minor_units(Decimal(amount), currency)) == shown


def test_minor_units_follow_iso_4217() -> None:
    assert [minor_units(c) for c in ("DKK", "USD", "EUR", "JPY", "KWD", "jpy")] == [
        2,
        2,
        2,
        0,
        3,
        0,
    ]


def test_ratios_have_two_decimals_and_none_over_nothing() -> None:
    assert str(ratio(Decimal("404.9500"), Decimal("0.3000"))) == "1349.83"
    assert ratio(Decimal("1"), Decimal("0")) is None


def test_money_prints_in_minor_units() -> None:
    assert str(Money(Decimal("0.3000"), "DKK")) == "0.30 DKK"
    assert str(Money(Decimal("1200"), "JPY")) == "1200 JPY"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+45 20 12 34 56", "+45 20****56"),
        ("0045 2012 345", "+45 20***45"),
        ("20123456", "20****56"),
        ("555-625-1199", "55******99"),
        ("1234", "**34"),
        ("12", "***"),
        ("", ""),
    ],
)
def test_a_number_as_sent_is_masked_keeping_its_ends(raw: str, masked: str) -> None:
    assert mask_phone_text(raw) == masked


@pytest.mark.parametrize(
    ("raw", "meant"),
    [
        ("+45 20 12 34 56", True),
        ("12", True),  # too short, but meant as a number: invalid, not missing
        ("555-555-BILL", False),
        ("call me", False),
        ("-", False),
        (None, False),
    ],
)
def test_what_is_meant_as_a_phone_number(raw: str | None, meant: bool) -> None:
    assert is_phone_text(raw) is meant


def test_the_first_number_meant_as_one_is_chosen_with_its_field() -> None:
    candidates = [
        ("sms_marketing_phone", None),
        ("billing_address.phone", "555-555-BILL"),
        ("shipping_address.phone", "+45 2012"),
        ("customer.phone", "+4520123456"),
    ]
    assert choose_phone(candidates, "DK") == PhoneChoice(None, "+45 2012", "shipping_address.phone")
    assert choose_phone(candidates[3:], "DK") == PhoneChoice(
        "+4520123456", "+4520123456", "customer.phone"
    )
    assert choose_phone(candidates[:2], "DK") == PhoneChoice()


def test_a_basket_known_only_in_the_buyer_s_currency_meets_no_threshold() -> None:
    big = Compare("basket_value", Bounds((("gte", Decimal("1000")),)))
    assert big.holds(FACTS)
    unknown = replace(FACTS, basket_value=None)
    assert not big.holds(unknown) and not Compare(
        "basket_value", Bounds((("lt", Decimal("1000")),))
    ).holds(unknown)
    assert big.explain(unknown) == (
        "the basket's value in the store's currency is unknown, so it is not ≥ 1,000"
    )
