"""The limits every value from outside keeps, checked before anything is stored.

SQLite stores a 300-character name in a 200-character column without a word; PostgreSQL refuses
it mid-transaction. So the rule is written once here, in the columns' own sizes, and applied where
payloads become domain events and where the API reads its inputs: both databases then answer the
same, and a bad value is a 400 that names its field instead of a 500 from the database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum

from cartback.domain.currencies import ISO_4217
from cartback.domain.events import ConsentChanged, Event

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_AMOUNT",
    "MAX_BIGINT",
    "MAX_NESTING",
    "OutOfBounds",
    "check_event",
    "check_text",
    "check_time",
    "not_after",
    "printable",
    "text_problem",
    "time_problem",
    "too_deep",
]

MAX_BIGINT = 2**63 - 1  # ids and offsets: a 64-bit signed integer, as PostgreSQL's BIGINT
MAX_INT = 2**31 - 1  # counts stored in an INTEGER column
MAX_NESTING = 32  # arrays and objects within each other; real shop payloads stay under 10
MAX_AMOUNT = Decimal(10) ** 12  # exclusive; the amount columns hold 14 digits before the point
MAX_QUANTITY = 1_000_000
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_TEXT = 4096  # any text without a column of its own size (titles, URLs, details)
SKEW = timedelta(minutes=2)  # a shop's clock this far ahead of ours is ordinary, not noted

# Field name -> the size of the column it is stored in (store/tables.py).
LENGTHS: Mapping[str, int] = {
    "store_id": 64,
    "cart_key": 255,
    "cart_token": 255,
    "external_id": 64,
    "customer_external_id": 64,
    "email": 320,
    "phone": 20,
    "phone_raw": 64,
    "phone_source": 64,
    "first_name": 200,
    "last_name": 200,
    "country": 2,
    "order_key": 64,
    "source": 128,
    "key": 128,
    "discount_codes": 64,
    "locale": 35,
    "request_id": 255,
    "shop_domain": 255,
    "topic": 128,  # of a stored delivery
    "delivery key": 255,
}
CURRENCY_FIELDS = frozenset({"currency", "store_currency"})
# Amounts that may never be negative (a refund's `amount` is positive by definition too).
NON_NEGATIVE = frozenset({"total", "store_total", "price", "discount_total", "amount"})


class OutOfBounds(ValueError):
    """A value outside its limits; the message names the field first (`customer.email: …`)."""


def text_problem(value: str, limit: int = MAX_TEXT) -> str | None:
    """Why `value` cannot be stored as text, or None: too long, a NUL, a lone surrogate."""
    if len(value) > limit:
        return f"longer than {limit} characters ({len(value)})"
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii() and not _encodes(value):
        return "contains a lone surrogate (not valid Unicode)"
    return None


def _encodes(value: str) -> bool:
    """Whether `value` has UTF-8: every str has but one with a lone surrogate (checked at C
    speed, where a look at each character cost more than the rest of a webhook's checks)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(field: str, value: str, limit: int = MAX_TEXT) -> str:
    problem = text_problem(value, limit)
    if problem is not None:
        raise OutOfBounds(f"{field}: {problem}")
    return value


def check_time(field: str, value: datetime) -> datetime:
    """`value` in UTC, when it is an aware instant between 1970 and 2100."""
    problem = time_problem(value)
    if problem is not None:
        raise OutOfBounds(f"{field}: {problem}")
    return value.astimezone(UTC)


def time_problem(value: datetime) -> str | None:
    """Why `value` is no usable instant, or None (the calendar's ends overflow on conversion)."""
    if value.tzinfo is None:
        return "has no UTC offset"
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        return f"{value.isoformat()} is outside the calendar"
    if not EARLIEST <= moment < LATEST:
        return f"{value.isoformat()} is not between 1970 and 2100"
    return None


def too_deep(data: object, limit: int = MAX_NESTING) -> bool:
    """Whether lists and dicts nest more than `limit` deep: a non-empty one `limit` levels down.
    Walked a level at a time without recursion, stepping only into lists and dicts (a webhook
    checks every body before it answers, so the scalars are looked at once and never queued)."""
    level: list[object] = [data] if isinstance(data, _NESTED) else []
    for _ in range(limit):
        below: list[object] = []
        for node in level:
            values = node.values() if isinstance(node, dict) else node
            below += [value for value in values if isinstance(value, _NESTED)]  # type: ignore[attr-defined]
        if not below:
            return False
        level = below
    return any(level)


_NESTED = (dict, list)


def not_after(event: Event, received_at: datetime) -> tuple[Event, bool]:
    """`event` dated no later than it arrived, and whether that moved it beyond the clock skew.

    A time from outside is a claim. A grant dated tomorrow would otherwise outrank a withdrawal
    made today (the consent ledger orders by the time things happened), and a checkout dated next
    week would never be abandoned. So nothing happened after it was received; a claim more than
    `SKEW` ahead is noted in a consent's detail.
    """
    claimed = event.occurred_at
    if claimed <= received_at:
        return event, False
    noted = claimed - received_at > SKEW
    if isinstance(event, ConsentChanged) and noted:
        note = f"dated {claimed.isoformat()}, after it arrived: counted when it arrived"
        detail = f"{event.detail}; {note}" if event.detail else note
        return dataclasses.replace(event, occurred_at=received_at, detail=detail), True
    return dataclasses.replace(event, occurred_at=received_at), noted


def printable(text: str, limit: int = 2000) -> str:
    """`text` made storable anywhere (errors kept with a delivery): NULs and lone surrogates
    escaped, cut to `limit` characters."""
    safe = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return safe[:limit]


def check_event(event: object) -> None:
    """Refuse an event (any domain dataclass) holding a value outside its limits."""
    for path, name, value in _values(event, ""):
        _check_value(path, name, value)


def _values(node: object, path: str) -> Iterator[tuple[str, str, object]]:
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        at = f"{path}.{field.name}" if path else field.name
        if dataclasses.is_dataclass(value):
            yield from _values(value, at)
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                yield from _item(f"{at}[{index}]", field.name, item)
        else:
            yield at, field.name, value


def _item(path: str, name: str, item: object) -> Iterator[tuple[str, str, object]]:
    if dataclasses.is_dataclass(item):
        yield from _values(item, path)
    else:
        yield path, name, item


def _check_value(path: str, name: str, value: object) -> None:
    if value is None or isinstance(value, bool | Enum):
        return
    if isinstance(value, str):
        check_text(path, value, LENGTHS.get(name, MAX_TEXT))
        if name in CURRENCY_FIELDS and value.upper() not in ISO_4217:
            raise OutOfBounds(f"{path}: {value!r} is not an ISO 4217 currency code")
    elif isinstance(value, Decimal):
        _check_amount(path, name, value)
    elif isinstance(value, int):
        limit = MAX_QUANTITY if name == "quantity" else MAX_INT
        if not 0 <= value <= limit:
            raise OutOfBounds(f"{path}: {value} is not between 0 and {limit}")
    elif isinstance(value, datetime):
        check_time(path, value)


def _check_amount(path: str, name: str, value: Decimal) -> None:
    if not value.is_finite() or abs(value) >= MAX_AMOUNT:
        raise OutOfBounds(f"{path}: {value} is not an amount below {MAX_AMOUNT:,}")
    if name in NON_NEGATIVE and value < 0:
        raise OutOfBounds(f"{path}: {value} is negative")
