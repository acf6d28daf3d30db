"""Typed, path-aware reading of webhook JSON bodies.

Platforms change payload shapes between API versions, so adapters read fields one by one and
every error names the JSON path it came from (`checkout.line_items[1].price`). Bodies are decoded
with exact numbers: integers stay Python ints (64-bit ids survive) and decimals become `Decimal`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NoReturn

import orjson

from cartback.domain.bounds import MAX_NESTING, OutOfBounds, check_time, too_deep
from cartback.domain.money import MoneyError, parse_amount
from cartback.errors import UnreadableBody


class PayloadError(UnreadableBody):
    """A webhook body that cannot be read; the message names the problem and the JSON path."""


def _refuse_constant(name: str) -> NoReturn:
    raise PayloadError(f"body is not JSON: {name} is not a JSON number")


def load_object(body: bytes, root: str) -> JsonObject:
    """Decode `body` as one JSON object, named `root` in error paths."""
    return JsonObject(_object(body, exact=True), root)


def json_object(body: bytes) -> dict[str, object]:
    """`body` as one JSON object, quickly (numbers as Python reads them): what a webhook checks
    before it answers. Raises PayloadError naming the problem.

    orjson reads it when it can, several times faster; anything it refuses (it is the stricter
    reader: no NaN, no integer beyond 64 bits, UTF-8 only) is read again by Python's own, so the
    answer is the same as that reader's, and so is the error that names the problem."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _object(body, exact=False)
    return _checked(data, few_containers=_few_containers(body))


def _few_containers(body: bytes) -> bool:
    """Whether `body` holds too few arrays and objects to nest deeper than the bounds allow:
    each has its opening bracket in the text (brackets within strings only add to the count),
    and nesting a non-empty one `MAX_NESTING` levels down takes one more than that. Counted in C,
    it spares most webhooks the walk through every value of their body."""
    return body.count(b"{") + body.count(b"[") <= MAX_NESTING


def _object(body: bytes, *, exact: bool) -> dict[str, object]:
    try:
        if exact:
            data: object = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
        else:
            data = json.loads(body)
    except ValueError as exc:  # not UTF-8, not JSON, or a number of thousands of digits
        raise PayloadError(f"body is not JSON: {exc}") from None
    except RecursionError:
        raise PayloadError(f"body: nests deeper than {MAX_NESTING} levels") from None
    return _checked(data)


def _checked(data: object, *, few_containers: bool = False) -> dict[str, object]:
    """A decoded body that is one JSON object, nested no deeper than the bounds allow
    (`few_containers`: known from its text not to)."""
    if not few_containers and too_deep(data):
        raise PayloadError(f"body: nests deeper than {MAX_NESTING} levels")
    if not isinstance(data, dict):
        raise PayloadError(f"body: expected a JSON object, got {_kind(data)}")
    return data


def _kind(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


@dataclass(frozen=True, slots=True)
class JsonObject:
    """One JSON object and the path that leads to it."""

    data: Mapping[str, object]
    path: str

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, problem: str) -> NoReturn:
        raise PayloadError(f"{self.at(key)}: {problem}")

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def require_child(self, key: str) -> JsonObject:
        child = self.child(key)
        if child is None:
            self.fail(key, "missing")
        return child

    def child(self, key: str) -> JsonObject | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(key, f"expected an object, got {_kind(value)}")
        return JsonObject(value, self.at(key))

    def children(self, key: str) -> list[JsonObject]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"expected an array, got {_kind(value)}")
        return [self._element(key, index, item) for index, item in enumerate(value)]

    def _element(self, key: str, index: int, item: object) -> JsonObject:
        path = f"{self.at(key)}[{index}]"
        if not isinstance(item, dict):
            raise PayloadError(f"{path}: expected an object, got {_kind(item)}")
        return JsonObject(item, path)

    def text(self, key: str) -> str | None:
        """A string (or an integer written as one); blank counts as absent."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {_kind(value)}")
        return value.strip() or None

    def require_text(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            self.fail(key, "missing")
        return value

    def ident(self, key: str) -> str | None:
        """An id as a string. Integers are kept exact; a non-integral number is refused."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool | Decimal):
            self.fail(key, f"{value!r} is not an integer id")
        return self.text(key)

    def require_ident(self, key: str) -> str:
        value = self.ident(key)
        if value is None:
            self.fail(key, "missing")
        return value

    def flag(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None or isinstance(value, bool):
            return value
        self.fail(key, f"expected true or false, got {value!r}")

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            return int(value)
        self.fail(key, f"{value!r} is not an integer")

    def amount(self, key: str) -> Decimal | None:
        value = self.data.get(key)
        if value is None:
            return None
        try:
            return parse_amount(value, self.at(key))
        except MoneyError as exc:
            raise PayloadError(str(exc)) from None

    def require_amount(self, *keys: str) -> Decimal:
        """The first of `keys` that holds an amount; fails naming the first key."""
        for key in keys:
            amount = self.amount(key)
            if amount is not None:
                return amount
        self.fail(keys[0], "missing")

    def timestamp(self, key: str) -> datetime | None:
        """An ISO 8601 instant with a UTC offset, returned as aware UTC."""
        raw = self.text(key)
        if raw is None:
            return None
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            self.fail(key, f"{raw!r} is not an ISO 8601 timestamp")
        if moment.tzinfo is None:
            self.fail(key, f"{raw!r} has no UTC offset")
        return self.within_calendar(key, moment)

    def within_calendar(self, key: str, moment: datetime) -> datetime:
        """`moment` as aware UTC when it lies in the years cartback accepts (see bounds)."""
        try:
            return check_time(self.at(key), moment)
        except OutOfBounds as exc:
            raise PayloadError(str(exc)) from None


def present(doc: JsonObject | None) -> list[JsonObject]:
    return [doc] if doc is not None else []


def first_text(sources: list[JsonObject], keys: tuple[str, ...]) -> str | None:
    """The first text found, trying each source in turn with each of `keys`."""
    for source in sources:
        for key in keys:
            value = source.text(key)
            if value is not None:
                return value
    return None
