"""The pieces every config model is made of: errors that name a key, and field types."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field


class Problem(NamedTuple):
    file: str
    line: int
    key: str  # e.g. "flows[0].abandon_after"; "" for the document as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key + ': ' if self.key else ''}{self.message}"


class ConfigError(Exception):
    """The config can't be used; each problem names the file, line and key."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = tuple(problems)

    @property
    def line(self) -> int:
        return self.problems[0].line

    @property
    def key(self) -> str:
        return self.problems[0].key


class _KeyedError(ValueError):
    """A validator's complaint about a key below the model it validates."""

    def __init__(self, message: str, *at: str | int) -> None:
        super().__init__(message)
        self.at = at


_DURATION_HINT = "(write e.g. 90s, 30m, 2h, 3d)"
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def parse_duration(text: str) -> timedelta:
    """Read `90s`, `30m`, `2h`, `3d` or a combination in that order such as `1h30m`."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration {_DURATION_HINT}")
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


SINCE_FORMS = (
    "a date (2026-11-01, midnight UTC), a time (2026-11-01T08:00+01:00) "
    "or a span back from now (7d, 12h, 30m)"
)


def read_since(text: str, now: datetime) -> datetime:
    """A `since` as people write it, for the CLI's `--since` and the API's `since=`: a span back
    from `now`, a date (midnight UTC), an ISO time, or Unix seconds. A time written without an
    offset comes back naive: the CLI takes it as UTC, the API asks for the offset. ValueError
    names the forms."""
    text = text.strip()
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    except OverflowError:
        raise ValueError(f"{text!r} reaches back before the year 1") from None
    if text.isascii() and text.isdigit() and len(text) <= 12:
        return datetime.fromtimestamp(int(text), UTC)
    try:
        return datetime.combine(date.fromisoformat(text), time(), UTC)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not {SINCE_FORMS}") from None


def _duration(value: object) -> object:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"{value!r} is not a duration {_DURATION_HINT}")


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


def _exact_decimal(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    return Decimal(str(value)) if isinstance(value, float) else value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _matching(pattern: str, what: str) -> AfterValidator:
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known time zone (e.g. Europe/Copenhagen)") from None
    return value


def _known_region(value: str) -> str:
    if not any(value in regions for regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.values()):
        raise ValueError(f"{value!r} is not a country code that phone numbers use")
    return value


def _clock_time(value: object) -> object:
    if isinstance(value, time):
        return value
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'{value!r} is not a time of day (write HH:MM, e.g. "21:00")')
    return time(int(match[1]), int(match[2]))


Duration = Annotated[timedelta, BeforeValidator(_duration)]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
NonEmptyStr = Annotated[str, AfterValidator(_non_empty)]
Slug = Annotated[str, _matching(r"[a-z0-9][a-z0-9_-]*", "an id (use a-z, 0-9, '-' and '_')")]
CountryCode = Annotated[
    str, _matching(r"[A-Z]{2}", "a country code (e.g. DK)"), AfterValidator(_known_region)
]
CurrencyCode = Annotated[str, _matching(r"[A-Z]{3}", "a currency code (e.g. DKK)")]
TimeZone = Annotated[str, AfterValidator(_known_zone)]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]
Amount = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0)]
Secret = Annotated[str | None, Field(repr=False)]


class _Model(BaseModel):
    # Numbers become text where text is expected: `sender: 4512345678`, `webhook_secret: 1234`.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)
