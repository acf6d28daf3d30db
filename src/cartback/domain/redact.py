"""Masks for anything that identifies a person or grants access, for use in log lines.

A mask keeps just enough to tell two values apart when debugging, never the whole value.
Missing values mask to the empty string.
"""

from __future__ import annotations

import re

import phonenumbers

_STARS = "***"
_SECRET_MIN_LENGTH_TO_HINT = 12
_PHONE_MIN_NATIONAL_DIGITS_TO_HINT = 6
_RAW_MIN_DIGITS_TO_HINT = 4
# An address in running text: not after a `*` (so a masked `a***@example.com` stays as it is).
_EMAIL_IN_TEXT = re.compile(r"(?<![\w.*+-])[\w.+-]+@(?:[\w-]+\.)+[A-Za-z]{2,}(?![\w-])")
# An international number in running text: `+4520123456`, `+45 20 12 34 56`, `+1-415-555-1212`.
_PHONE_IN_TEXT = re.compile(r"(?<![\w+])\+\d(?:[ -]?\d){6,14}(?![\d-])")


def mask_phone(e164: str | None) -> str:
    """`+4520123456` -> `+45******56`: country code and the last two digits."""
    if e164 is None or not e164.strip():
        return ""
    digits = "".join(char for char in e164 if char.isdigit())
    country_code = _country_code_prefix(digits) if e164.strip().startswith("+") else None
    if country_code is None:
        return _STARS
    national = digits[len(country_code) :]
    if len(national) < _PHONE_MIN_NATIONAL_DIGITS_TO_HINT:
        return f"+{country_code}{'*' * len(national)}"
    return f"+{country_code}{'*' * (len(national) - 2)}{national[-2:]}"


def mask_phone_text(raw: str | None) -> str:
    """A number as a shop sent it, valid or not: `+45 20 12 34 56` -> `+45 20****56`.

    The country code (after `+` or `00`), the first two and the last two digits stay; the rest
    are stars. Short numbers keep only their last two digits; very short ones nothing."""
    if raw is None or not raw.strip():
        return ""
    text = raw.strip()
    digits = "".join(char for char in text if char.isdigit())
    prefix = ""
    if text.startswith(("+", "00")):
        skip = 0 if text.startswith("+") else 2
        code = _country_code_prefix(digits[skip:])
        if code is not None:
            prefix, digits = f"+{code} ", digits[skip + len(code) :]
    if len(digits) < _RAW_MIN_DIGITS_TO_HINT:
        return prefix + _STARS
    if len(digits) < _PHONE_MIN_NATIONAL_DIGITS_TO_HINT:
        return f"{prefix}{'*' * (len(digits) - 2)}{digits[-2:]}"
    return f"{prefix}{digits[:2]}{'*' * (len(digits) - 4)}{digits[-2:]}"


def mask_email(email: str | None) -> str:
    """`alice@example.com` -> `a***@example.com`."""
    if email is None or not email.strip():
        return ""
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or not domain:
        return _STARS
    hint = local[0] if len(local) > 1 else ""
    return f"{hint}{_STARS}@{domain}"


def mask_text(text: str) -> str:
    """`text` with every email address and international phone number in it masked: for text
    that is not ours to shape (an exception from a driver, a traceback)."""
    text = _EMAIL_IN_TEXT.sub(lambda match: mask_email(match.group(0)), text)
    return _PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group(0)) or _STARS, text)


def mask_secret(secret: str | None) -> str:
    """`***` plus the last two characters of a long secret, enough to tell keys apart."""
    if secret is None or len(secret) < _SECRET_MIN_LENGTH_TO_HINT:
        return _STARS
    return _STARS + secret[-2:]


def _country_code_prefix(digits: str) -> str | None:
    # Country calling codes are prefix-free, so at most one of these matches.
    for length in (1, 2, 3):
        prefix = digits[:length]
        if len(prefix) == length and int(prefix) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return prefix
    return None
