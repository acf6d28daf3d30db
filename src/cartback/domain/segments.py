"""Segments: named conditions on a customer and their cart, read from plain configuration.

A segment is data, never code: a tree of `All`, `Any`, `Not` and leaves such as
`basket_value: {gte: 1000}`. A mapping with several keys means all of them. Every condition can
say why it holds or not (`explain`), so a skipped or discounted cart can be told apart in the UI.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

from cartback.domain.money import MoneyError, parse_amount

_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_DAY = timedelta(days=1)


class SegmentError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ItemFacts:
    sku: str | None
    tags: frozenset[str] = frozenset()
    collections: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SegmentFacts:
    basket_value: Decimal
    currency: str
    orders_count: int | None  # the platform's count where it gives one, else ours
    total_spent: Decimal | None
    last_order_at: datetime | None
    customer_tags: frozenset[str]  # lower-cased
    items: tuple[ItemFacts, ...]
    country: str | None
    cart_updates: int
    abandonments: tuple[datetime, ...]  # this person's abandoned carts, this one included
    now: datetime


class Condition(Protocol):
    def holds(self, facts: SegmentFacts) -> bool: ...

    def explain(self, facts: SegmentFacts) -> str: ...


# Combinators -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class All:
    conditions: tuple[Condition, ...]

    def holds(self, facts: SegmentFacts) -> bool:
        return all(c.holds(facts) for c in self.conditions)

    def explain(self, facts: SegmentFacts) -> str:
        failing = [c for c in self.conditions if not c.holds(facts)]
        return "; ".join(c.explain(facts) for c in failing or self.conditions)


@dataclass(frozen=True, slots=True)
class Any:
    conditions: tuple[Condition, ...]

    def holds(self, facts: SegmentFacts) -> bool:
        return any(c.holds(facts) for c in self.conditions)

    def explain(self, facts: SegmentFacts) -> str:
        matching = [c for c in self.conditions if c.holds(facts)]
        if matching:
            return "; ".join(c.explain(facts) for c in matching)
        return "none of: " + "; ".join(c.explain(facts) for c in self.conditions)


@dataclass(frozen=True, slots=True)
class Not:
    condition: Condition

    def holds(self, facts: SegmentFacts) -> bool:
        return not self.condition.holds(facts)

    def explain(self, facts: SegmentFacts) -> str:
        return f"not ({self.condition.explain(facts)})"


@dataclass(frozen=True, slots=True)
class SegmentRef:
    """Another segment by name; `parse_segments` fills in `target`."""

    name: str
    target: Condition | None = field(default=None, compare=False)
    where: str = field(default="", compare=False)

    def _resolved(self) -> Condition:
        if self.target is None:
            raise SegmentError(f"{self.where or 'segment'}: segment {self.name!r} is not resolved")
        return self.target

    def holds(self, facts: SegmentFacts) -> bool:
        return self._resolved().holds(facts)

    def explain(self, facts: SegmentFacts) -> str:
        return f"segment {self.name}: {self._resolved().explain(facts)}"


# Leaves ------------------------------------------------------------------------------------

_OPS: dict[str, tuple[str, Callable[[Decimal, Decimal], bool]]] = {
    "gte": ("≥", operator.ge),
    "gt": (">", operator.gt),
    "lte": ("≤", operator.le),
    "lt": ("<", operator.lt),
}


@dataclass(frozen=True, slots=True)
class Bounds:
    """Limits a number must respect; all given limits must hold."""

    limits: tuple[tuple[str, Decimal], ...]  # (op, limit), op in gte/gt/lte/lt

    def check(self, value: Decimal) -> bool:
        return all(_OPS[op][1](value, limit) for op, limit in self.limits)

    def describe(self, shown: str, value: Decimal) -> str:
        failed = [(op, lim) for op, lim in self.limits if not _OPS[op][1](value, lim)]
        if not failed:
            return f"{shown} " + " and ".join(_limit(op, lim) for op, lim in self.limits)
        return f"{shown}, not " + " and not ".join(_limit(op, lim) for op, lim in failed)

    def text(self) -> str:
        return " and ".join(_limit(op, lim) for op, lim in self.limits)


@dataclass(frozen=True, slots=True)
class CustomerIs:
    kind: Literal["new", "returning"]

    def holds(self, facts: SegmentFacts) -> bool:
        return (_orders(facts) == 0) == (self.kind == "new")

    def explain(self, facts: SegmentFacts) -> str:
        actual = "new" if _orders(facts) == 0 else "returning"
        verdict = "" if actual == self.kind else f", not {self.kind}"
        return f"customer is {actual} ({_orders(facts)} previous orders){verdict}"


@dataclass(frozen=True, slots=True)
class Compare:
    """A number about the cart or customer (`measure`, a key of `MEASURES`) within bounds.

    A number the facts don't know (total spent, days since the last order of a customer who
    never ordered) matches no bounds.
    """

    measure: str
    bounds: Bounds

    def holds(self, facts: SegmentFacts) -> bool:
        value = MEASURES[self.measure].read(facts)
        return value is not None and self.bounds.check(value)

    def explain(self, facts: SegmentFacts) -> str:
        measure = MEASURES[self.measure]
        value = measure.read(facts)
        if value is None:
            return measure.missing.format(bounds=self.bounds.text())
        return self.bounds.describe(measure.show(facts, value), value)


@dataclass(frozen=True, slots=True)
class Measure:
    read: Callable[[SegmentFacts], Decimal | None]
    show: Callable[[SegmentFacts, Decimal], str]
    missing: str = ""  # shown when the value is unknown; {bounds} is filled in
    whole: bool = True  # bounds must be whole numbers (else amounts)


def _money(label: str) -> Callable[[SegmentFacts, Decimal], str]:
    return lambda facts, value: f"{label} {value:,.2f} {facts.currency}"


MEASURES: dict[str, Measure] = {
    "basket_value": Measure(lambda f: f.basket_value, _money("basket"), whole=False),
    "total_spent": Measure(
        lambda f: f.total_spent,
        _money("total spent"),
        "total spent is unknown, so it is not {bounds}",
        whole=False,
    ),
    "orders_count": Measure(lambda f: Decimal(_orders(f)), lambda f, v: f"orders {v}"),
    "days_since_last_order": Measure(
        lambda f: _days_since(f),
        lambda f, v: f"last order {v} days ago",
        "no previous order, so days since last order is not {bounds}",
    ),
    "cart_updates": Measure(
        lambda f: Decimal(f.cart_updates), lambda f, v: f"cart updated {v} times"
    ),
}


@dataclass(frozen=True, slots=True)
class CustomerTags:
    """At least one of `includes` (when given) and none of `excludes`."""

    includes: frozenset[str] = frozenset()
    excludes: frozenset[str] = frozenset()

    def holds(self, facts: SegmentFacts) -> bool:
        tags = facts.customer_tags
        return (not self.includes or bool(self.includes & tags)) and not self.excludes & tags

    def explain(self, facts: SegmentFacts) -> str:
        tags = facts.customer_tags
        parts = []
        if self.includes:
            found = self.includes & tags
            parts.append(
                f"customer tags include {_list(found)}"
                if found
                else f"customer tags include none of {_list(self.includes)}"
            )
        if self.excludes:
            bad = self.excludes & tags
            parts.append(
                f"customer tags include excluded {_list(bad)}"
                if bad
                else f"customer tags include none of excluded {_list(self.excludes)}"
            )
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class BasketItems:
    """Every given criterion must hold. `tags_all`: every item carries all these tags."""

    skus_any: frozenset[str] = frozenset()
    tags_any: frozenset[str] = frozenset()
    collections_any: frozenset[str] = frozenset()
    tags_all: frozenset[str] = frozenset()

    def _checks(self, facts: SegmentFacts) -> list[tuple[bool, str]]:
        items = facts.items
        skus = frozenset(i.sku for i in items if i.sku)
        tags = frozenset().union(*(i.tags for i in items))
        collections = frozenset().union(*(i.collections for i in items))
        checks = []
        if self.skus_any:
            checks.append(
                (bool(skus & self.skus_any), f"a basket item with SKU {_or(self.skus_any)}")
            )
        if self.tags_any:
            checks.append(
                (bool(tags & self.tags_any), f"a basket item tagged {_or(self.tags_any)}")
            )
        if self.collections_any:
            found = bool(collections & self.collections_any)
            checks.append((found, f"a basket item in collection {_or(self.collections_any)}"))
        if self.tags_all:
            every = bool(items) and all(self.tags_all <= i.tags for i in items)
            checks.append((every, f"every basket item tagged {_list(self.tags_all)}"))
        return checks

    def holds(self, facts: SegmentFacts) -> bool:
        return all(ok for ok, _ in self._checks(facts))

    def explain(self, facts: SegmentFacts) -> str:
        texts = (text if ok else _negate_item_text(text) for ok, text in self._checks(facts))
        return "; ".join(texts)


@dataclass(frozen=True, slots=True)
class AbandonedTimes:
    """How many carts this person abandoned within `within` before now (all time when None)."""

    bounds: Bounds
    within: timedelta | None = None

    def count(self, facts: SegmentFacts) -> int:
        since = facts.now - self.within if self.within is not None else None
        return sum(
            1 for at in facts.abandonments if at <= facts.now and (since is None or at >= since)
        )

    def holds(self, facts: SegmentFacts) -> bool:
        return self.bounds.check(Decimal(self.count(facts)))

    def explain(self, facts: SegmentFacts) -> str:
        span = f" in the last {_duration_text(self.within)}" if self.within is not None else ""
        count = self.count(facts)
        return self.bounds.describe(f"abandoned {count} carts{span}", Decimal(count))


@dataclass(frozen=True, slots=True)
class Country:
    """An unknown country is in no list: `in` fails and `not_in` holds."""

    in_: frozenset[str] = frozenset()
    not_in: frozenset[str] = frozenset()

    def holds(self, facts: SegmentFacts) -> bool:
        country = (facts.country or "").upper()
        return (not self.in_ or country in self.in_) and country not in self.not_in

    def explain(self, facts: SegmentFacts) -> str:
        shown = f"country {facts.country.upper()}" if facts.country else "country unknown"
        verdict = "matches" if self.holds(facts) else "does not match"
        rules = [f"in {_list(self.in_)}"] if self.in_ else []
        rules += [f"not in {_list(self.not_in)}"] if self.not_in else []
        return f"{shown} {verdict} {' and '.join(rules)}"


# The set of segments -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segments:
    conditions: Mapping[str, Condition]

    @classmethod
    def from_config(cls, data: Mapping[str, object]) -> Segments:
        return cls(parse_segments(data))

    def _get(self, name: str) -> Condition:
        if name not in self.conditions:
            raise SegmentError(f"unknown segment {name!r} (known: {_list(self.conditions)})")
        return self.conditions[name]

    def matches(self, name: str, facts: SegmentFacts) -> bool:
        return self._get(name).holds(facts)

    def explain(self, name: str, facts: SegmentFacts) -> str:
        condition = self._get(name)
        verdict = "matches" if condition.holds(facts) else "does not match"
        return f"segment {name} {verdict}: {condition.explain(facts)}"


def parse_segments(data: Mapping[str, object]) -> dict[str, Condition]:
    """Parse every segment, then resolve `segment:` references; cycles are an error."""
    if not isinstance(data, Mapping):
        raise SegmentError(f"segments: expected a mapping of names to conditions, got {data!r}")
    parsed = {str(name): parse_condition(body, f"segments.{name}") for name, body in data.items()}
    resolved: dict[str, Condition] = {}
    for name in parsed:
        _resolve_segment(name, parsed, resolved, ())
    return resolved


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `24h`, `30d`, `2w` or combinations such as `1d12h`."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration (write e.g. 30m, 24h, 30d)")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def parse_condition(data: object, where: str) -> Condition:
    if not isinstance(data, Mapping) or not data:
        raise SegmentError(
            f"{where}: expected a condition such as {{basket_value: {{gte: 100}}}}, got {data!r}"
        )
    if len(data) > 1:
        return All(tuple(parse_condition({key: value}, where) for key, value in data.items()))
    ((key, value),) = data.items()
    parser = _PARSERS.get(str(key))
    if parser is None:
        raise SegmentError(f"{where}: unknown condition {key!r} (known: {_list(_PARSERS)})")
    return parser(value, f"{where}.{key}")


def _resolve_segment(
    name: str, parsed: Mapping[str, Condition], done: dict[str, Condition], chain: tuple[str, ...]
) -> Condition:
    if name in done:
        return done[name]
    if name in chain:
        cycle = " -> ".join((*chain[chain.index(name) :], name))
        raise SegmentError(f"segments.{chain[0]}: segments refer to each other in a cycle: {cycle}")
    done[name] = _resolve(parsed[name], parsed, done, (*chain, name))
    return done[name]


def _resolve(
    condition: Condition,
    parsed: Mapping[str, Condition],
    done: dict[str, Condition],
    chain: tuple[str, ...],
) -> Condition:
    if isinstance(condition, All | Any):
        inner = tuple(_resolve(c, parsed, done, chain) for c in condition.conditions)
        return type(condition)(inner)
    if isinstance(condition, Not):
        return Not(_resolve(condition.condition, parsed, done, chain))
    if isinstance(condition, SegmentRef):
        if condition.name not in parsed:
            known = _list(parsed)
            raise SegmentError(
                f"{condition.where}: unknown segment {condition.name!r} (known: {known})"
            )
        target = _resolve_segment(condition.name, parsed, done, chain)
        return SegmentRef(condition.name, target, condition.where)
    return condition


# Parsers, one per condition key ------------------------------------------------------------


def _parse_list_of_conditions(value: object, where: str) -> tuple[Condition, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
        raise SegmentError(f"{where}: expected a non-empty list of conditions, got {value!r}")
    return tuple(parse_condition(item, f"{where}[{index}]") for index, item in enumerate(value))


def _parse_customer(value: object, where: str) -> Condition:
    if value == "new":
        return CustomerIs("new")
    if value == "returning":
        return CustomerIs("returning")
    raise SegmentError(f"{where}: expected 'new' or 'returning', got {value!r}")


def _parse_segment_ref(value: object, where: str) -> Condition:
    if not isinstance(value, str) or not value:
        raise SegmentError(f"{where}: expected a segment name, got {value!r}")
    return SegmentRef(value, where=where)


def _options(value: object, where: str, known: Iterable[str], example: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping) or not value:
        raise SegmentError(f"{where}: expected a mapping like {example}, got {value!r}")
    allowed = sorted(known)
    for key in value:
        if key not in allowed:
            raise SegmentError(f"{where}: unknown option {key!r} (known: {', '.join(allowed)})")
    return {str(k): v for k, v in value.items()}


def _bounds(
    options: Mapping[str, object], where: str, read: Callable[[object, str, str], Decimal]
) -> Bounds:
    limits = tuple((op, read(options[op], op, where)) for op in _OPS if op in options)
    if not limits:
        raise SegmentError(f"{where}: needs at least one of {', '.join(_OPS)}")
    return Bounds(limits)


def _amount(value: object, op: str, where: str) -> Decimal:
    try:
        return parse_amount(value, op)
    except MoneyError:
        raise SegmentError(f"{where}: {op!r} must be an amount, got {value!r}") from None


def _count(value: object, op: str, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SegmentError(f"{where}: {op!r} must be a whole number ≥ 0, got {value!r}")
    return Decimal(value)


def _compare(measure: str) -> _Parser:
    read = _count if MEASURES[measure].whole else _amount

    def parse(value: object, where: str) -> Condition:
        options = _options(value, where, _OPS, "{gte: 100}")
        return Compare(measure, _bounds(options, where, read))

    return parse


def _names(value: object, option: str, where: str) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not all(isinstance(i, str) and i.strip() for i in items):
        raise SegmentError(f"{where}: {option!r} must be a name or a list of names, got {value!r}")
    return frozenset(str(i).strip() for i in items)


def _tags(value: object, option: str, where: str) -> frozenset[str]:
    return frozenset(name.lower() for name in _names(value, option, where))


def _parse_customer_tags(value: object, where: str) -> Condition:
    options = _options(value, where, ("includes", "excludes"), "{includes: vip}")
    sets = {key: _tags(options[key], key, where) for key in options}
    return CustomerTags(sets.get("includes", frozenset()), sets.get("excludes", frozenset()))


def _parse_basket_items(value: object, where: str) -> Condition:
    keys = ("skus_any", "tags_any", "collections_any", "tags_all")
    options = _options(value, where, keys, "{tags_any: [sale]}")
    sets = {key: _tags(options[key], key, where) for key in options if key != "skus_any"}
    if "skus_any" in options:  # SKUs are matched as written, tags in lower case
        sets["skus_any"] = _names(options["skus_any"], "skus_any", where)
    return BasketItems(**sets)


def _parse_abandoned_times(value: object, where: str) -> Condition:
    options = _options(value, where, (*_OPS, "within"), "{gte: 2, within: 30d}")
    bounds = _bounds({k: v for k, v in options.items() if k != "within"}, where, _count)
    if "within" not in options:
        return AbandonedTimes(bounds)
    try:
        within = parse_duration(str(options["within"]))
    except ValueError as exc:
        raise SegmentError(f"{where}: 'within': {exc}") from None
    return AbandonedTimes(bounds, within)


def _parse_country(value: object, where: str) -> Condition:
    options = _options(value, where, ("in", "not_in"), "{in: [DK, SE]}")
    sets = {key: frozenset(c.upper() for c in _tags(options[key], key, where)) for key in options}
    return Country(sets.get("in", frozenset()), sets.get("not_in", frozenset()))


_Parser = Callable[[object, str], Condition]

_PARSERS: dict[str, _Parser] = {
    "all": lambda value, where: All(_parse_list_of_conditions(value, where)),
    "any": lambda value, where: Any(_parse_list_of_conditions(value, where)),
    "not": lambda value, where: Not(parse_condition(value, where)),
    "segment": _parse_segment_ref,
    "customer": _parse_customer,
    "basket_value": _compare("basket_value"),
    "orders_count": _compare("orders_count"),
    "total_spent": _compare("total_spent"),
    "days_since_last_order": _compare("days_since_last_order"),
    "customer_tags": _parse_customer_tags,
    "basket_items": _parse_basket_items,
    "abandoned_times": _parse_abandoned_times,
    "cart_updates": _compare("cart_updates"),
    "country": _parse_country,
}


# Small helpers -----------------------------------------------------------------------------


def _negate_item_text(text: str) -> str:
    return "not " + text if text.startswith("every") else "no " + text.removeprefix("a ")


def _orders(facts: SegmentFacts) -> int:
    return facts.orders_count or 0


def _days_since(facts: SegmentFacts) -> Decimal | None:
    if facts.last_order_at is None:
        return None
    return Decimal((facts.now - facts.last_order_at) // _DAY)


def _limit(op: str, limit: Decimal) -> str:
    return f"{_OPS[op][0]} {limit:,}"


def _list(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def _or(names: Iterable[str]) -> str:
    return " or ".join(sorted(names))


def _duration_text(delta: timedelta) -> str:
    if delta % _DAY == timedelta(0):
        return f"{delta // _DAY}d"
    return f"{delta.total_seconds() / 3600:g}h"
