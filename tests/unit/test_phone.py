from __future__ import annotations

import pytest

from cartback.domain.emails import InvalidEmail, normalize_email, require_email
from cartback.domain.phone import (
    InvalidPhone,
    normalize_phone,
    phone_country,
    phone_timezones,
    require_phone,
    split_phone,
)
from cartback.domain.redact import mask_email, mask_phone, mask_secret


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("20123456", "DK", "+4520123456"),
        ("20 12 34 56", "dk", "+4520123456"),
        ("+45 20 12 34 56", None, "+4520123456"),
        ("+45 20 12 34 56", "US", "+4520123456"),
        ("0045 20123456", None, "+4520123456"),
        ("0045 20123456", "US", "+4520123456"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+1 415-555-2671", None, "+14155552671"),
    ],
)
def test_normalize_phone(raw: str, country: str | None, expected: str) -> None:
    assert normalize_phone(raw, country) == expected


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_phone_is_none(raw: str | None) -> None:
    assert normalize_phone(raw, "DK") is None


@pytest.mark.parametrize(
    ("raw", "country", "problem"),
    [
        ("555-555-BILL", "US", "letters"),
        ("1234", "DK", "too short"),
        ("+45 2012", None, "too short"),
        ("20123456", None, "country code"),
        ("+45 10123456", None, "not a valid number for country DK"),
        ("not a number", "DK", "letters"),
        ("--", "DK", "not a number"),
    ],
)
def test_invalid_phone(raw: str, country: str | None, problem: str) -> None:
    with pytest.raises(InvalidPhone, match=problem) as caught:
        normalize_phone(raw, country)
    digits = "".join(char for char in raw if char.isdigit())
    if len(digits) > 2:
        assert digits not in str(caught.value)


def test_invalid_phone_is_a_value_error() -> None:
    assert issubclass(InvalidPhone, ValueError)


def test_a_shops_number_is_kept_with_what_was_sent_and_a_bad_one_is_not_lost() -> None:
    assert split_phone("20 12 34 56", "DK") == ("+4520123456", "20 12 34 56")
    assert split_phone("12", "DK") == (None, "12")
    assert split_phone("  ", "DK") == (None, None)
    assert split_phone(None, "DK") == (None, None)


def test_a_number_a_person_gives_for_sms_is_required() -> None:
    assert require_phone("0045 20123456", None) == "+4520123456"
    with pytest.raises(InvalidPhone, match="a phone number is needed"):
        require_phone(" ", "DK")
    with pytest.raises(InvalidPhone, match="too short"):
        require_phone("12", "DK")


def test_an_email_is_kept_stripped_and_lower_cased() -> None:
    assert normalize_email("  Astrid@Example.COM ") == "astrid@example.com"
    assert normalize_email("") is None
    assert normalize_email(None) is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "an email address is needed"),
        ("astrid", "not an email address"),
        ("@astrid.example.com", "not an email address"),
        ("astrid@localhost", "not an email address"),
        ("astrid smith@example.com", "not an email address"),
        ("a" * 320 + "@example.com", "longer than 320 characters"),
    ],
)
def test_an_email_a_person_gives_must_be_an_address(raw: str, problem: str) -> None:
    with pytest.raises(InvalidEmail, match=problem) as caught:
        require_email(raw)
    assert "astrid" not in str(caught.value)  # never repeats the address


def test_timezones_of_a_danish_number() -> None:
    assert phone_timezones("+4520123456") == ("Europe/Copenhagen",)


def test_timezones_of_a_us_number_are_real_zones() -> None:
    zones = phone_timezones("+14155552671")
    assert zones
    assert "Etc/Unknown" not in zones


def test_timezones_unknown_for_non_geographic_number() -> None:
    assert phone_timezones("+80012345678") == ()


def test_phone_country() -> None:
    assert phone_country("+4520123456") == "DK"
    assert phone_country("+14155552671") == "US"
    assert phone_country("+80012345678") is None


def test_mask_phone_keeps_country_code_and_last_two_digits() -> None:
    assert mask_phone("+4520123456") == "+45******56"
    assert mask_phone("+14155552671") == "+1********71"


@pytest.mark.parametrize("number", ["+4520123456", "+14155552671", "+351912345678", "+4512"])
def test_mask_phone_never_shows_the_number(number: str) -> None:
    masked = mask_phone(number)
    assert number not in masked
    assert number[1:] not in masked
    assert number[-6:] not in masked


@pytest.mark.parametrize("value", [None, ""])
def test_mask_missing_values(value: str | None) -> None:
    assert mask_phone(value) == ""
    assert mask_email(value) == ""
    assert mask_secret(value) == "***"


def test_mask_phone_of_something_that_is_not_e164() -> None:
    assert mask_phone("20123456") == "***"


def test_mask_email() -> None:
    assert mask_email("alice@example.com") == "a***@example.com"
    assert mask_email("a@example.com") == "***@example.com"
    assert mask_email("no-at-sign") == "***"


@pytest.mark.parametrize("email", ["alice@example.com", "a@example.com", "ab@x.dk"])
def test_mask_email_never_shows_the_address(email: str) -> None:
    masked = mask_email(email)
    assert email not in masked
    assert email.split("@")[0] not in masked.split("@")[0]


def test_mask_secret() -> None:
    assert mask_secret("short") == "***"
    assert mask_secret("12345678901") == "***"
    assert mask_secret("shpss_0123456789abcdef") == "***ef"
    assert "0123456789" not in mask_secret("shpss_0123456789abcdef")


def test_a_number_read_again_gives_the_same_answer_and_a_refused_one_is_refused_again() -> None:
    """Numbers are cached per text and country: the country still decides a local number, and a
    refused number raises every time it comes."""
    assert normalize_phone("20 12 34 56", "DK") == "+4520123456"
    assert normalize_phone("20 12 34 56", "dk") == "+4520123456"
    assert normalize_phone(" 20 12 34 56 ", "DK") == "+4520123456"
    assert normalize_phone("(212) 555-0134", "US") == "+12125550134"
    assert split_phone("(212) 555-0134", "DK") == (None, "(212) 555-0134")
    for _ in range(2):
        with pytest.raises(InvalidPhone, match="letters"):
            normalize_phone("555-555-BILL", "US")
