"""Phone numbers: normalise what shops send into E.164, and learn the number's zones.

Error messages never repeat the number: they end up in logs and API answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as pn_timezone

_UNKNOWN_ZONE = "Etc/Unknown"
_NON_GEOGRAPHIC_REGIONS = frozenset({"001", "ZZ"})

_LENGTH_PROBLEMS = {
    phonenumbers.ValidationResult.TOO_SHORT: "is too short",
    phonenumbers.ValidationResult.TOO_LONG: "is too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "has the wrong number of digits",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
}

_PARSE_PROBLEMS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: (
        "has no valid country code and no known country to assume"
    ),
    phonenumbers.NumberParseException.NOT_A_NUMBER: "is not a number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "is too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "is too short",
    phonenumbers.NumberParseException.TOO_LONG: "is too long",
}


class InvalidPhone(ValueError):
    pass


def normalize_phone(raw: str | None, country: str | None) -> str | None:
    """Return `raw` as E.164, or None when there is no number.

    `country` (ISO 3166 alpha-2) is only used for numbers written without a country code.
    """
    if raw is None or not raw.strip():
        return None
    return _e164(raw.strip(), country.strip().upper() if country else None)


@lru_cache(maxsize=4096)
def _e164(text: str, region: str | None) -> str:
    """`normalize_phone` of a stripped text. Cached: each update of a checkout brings its
    number again, and reading one takes phonenumbers about as long as the rest of the update's
    parsing (a refused number raises again each time: exceptions are not cached)."""
    if any(char.isalpha() for char in text):
        raise InvalidPhone("phone number contains letters")
    if text.startswith("00"):
        text = "+" + text[2:]
    number = _parse(text, region)
    _require_valid(number)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def split_phone(raw: str | None, country: str | None) -> tuple[str | None, str | None]:
    """(E.164 or None, the text as sent): how a shop's number is kept on a cart.

    An invalid number gives (None, raw), so it can be reported instead of silently dropped.
    """
    if raw is None or not raw.strip():
        return None, None
    try:
        return normalize_phone(raw, country), raw
    except InvalidPhone:
        return None, raw


_MIN_DIGITS = 2


def is_phone_text(raw: str | None) -> bool:
    """Whether a text is meant as a phone number at all: digits and no letters. Shops' sample
    and placeholder values (`555-555-BILL`, `n/a`, `-`) are not: a cart with only those has no
    phone for SMS, rather than an invalid one."""
    if raw is None:
        return False
    digits = sum(char.isdigit() for char in raw)
    return digits >= _MIN_DIGITS and not any(char.isalpha() for char in raw)


@dataclass(frozen=True, slots=True)
class PhoneChoice:
    """The phone a cart is kept with: E.164 when valid, else the text as sent (`raw`), and the
    field it came from (`source`, e.g. `billing_address.phone`)."""

    e164: str | None = None
    raw: str | None = None
    source: str | None = None


def choose_phone(candidates: Iterable[tuple[str, str | None]], country: str | None) -> PhoneChoice:
    """The first of (field, text) that is meant as a phone number, normalised like `split_phone`;
    texts that are not phone numbers at all are passed over."""
    for source, raw in candidates:
        if is_phone_text(raw):
            e164, kept = split_phone(raw, country)
            return PhoneChoice(e164, kept, source)
    return PhoneChoice()


def require_phone(raw: str | None, country: str | None) -> str:
    """E.164 of a number a person or a file gave for SMS; InvalidPhone when there is none."""
    e164 = normalize_phone(raw, country)
    if e164 is None:
        raise InvalidPhone("a phone number is needed")
    return e164


@lru_cache(maxsize=4096)
def phone_timezones(e164: str) -> tuple[str, ...]:
    """IANA zones the number may be in; empty when the library cannot tell. (Cached: every
    send asks it again for the same few numbers.)"""
    zones = pn_timezone.time_zones_for_number(_e164_number(e164))
    return tuple(zone for zone in zones if zone != _UNKNOWN_ZONE)


@lru_cache(maxsize=4096)
def phone_country(e164: str) -> str | None:
    """ISO region code of the number; None for non-geographic or unknown numbers."""
    region = phonenumbers.region_code_for_number(_e164_number(e164))
    if not region or region in _NON_GEOGRAPHIC_REGIONS:
        return None
    return str(region)


@lru_cache(maxsize=4096)
def _e164_number(e164: str) -> phonenumbers.PhoneNumber:
    """A stored number, parsed once for the questions asked of it (a send asks its zones and
    its country). Not changed by those who read it."""
    return _parse(e164, None)


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        problem = _PARSE_PROBLEMS.get(exc.error_type, "cannot be read")
        raise InvalidPhone(f"phone number {problem}") from None


def _require_valid(number: phonenumbers.PhoneNumber) -> None:
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in _LENGTH_PROBLEMS:
        raise InvalidPhone(f"phone number {_LENGTH_PROBLEMS[reason]}")
    if not phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_number(number)
        raise InvalidPhone(f"phone number is not a valid number for country {region}")
