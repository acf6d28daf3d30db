"""Segments: named conditions on a customer and their cart, read from plain configuration.

A segment is data, never code: a tree of `All`, `Any`, `Not` and leaves such as
`basket_value: {gte: 1000}`. A mapping with several keys means all of them. Every condition can
say why it holds or not (`explain`), so a skipped or discounted cart can be told apart in the UI.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

from cartback.domain.durations import span

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
    basket_value: Decimal | None  # in the store's currency; None when the shop gave another only
    currency: str  # the store's
    orders_count: int | None  # the platform's count where it gives one, else ours
    total_spent: Decimal | None
    last_order_at: datetime | None
    customer_tags: frozenset[str]  # lower-cased
    items: tuple[ItemFacts, ...]
    country: str | None
    cart_updates: int
    abandonments: tuple[datetime, ...]  # this person's abandoned carts, this one included
    now: datetime
    # Engagement with this run's messages, by channel ("sms", "email", "rcs"); bots excluded.
    opened: frozenset[str] = frozenset()
    clicked: frozenset[str] = frozenset()


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
        if isinstance(self.condition, Engaged):  # it states the fact either way
            return self.condition.explain(facts)
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
    "basket_value": Measure(
        lambda f: f.basket_value,
        _money("basket"),
        "the basket's value in the store's currency is unknown, so it is not {bounds}",
        whole=False,
    ),
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
        within = f" in the last {span(self.within)}" if self.within is not None else ""
        count = self.count(facts)
        return self.bounds.describe(f"abandoned {count} carts{within}", Decimal(count))


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


ENGAGEMENT_CHANNELS = ("sms", "email", "rcs")
_MESSAGE = {"sms": "an SMS", "email": "an email", "rcs": "an RCS message", "any": "a message"}


@dataclass(frozen=True, slots=True)
class Engaged:
    """A message of this run was opened (`opened: email`) or a link in it clicked
    (`clicked: sms`); `any` is any channel."""

    action: Literal["opened", "clicked"]
    channel: str  # "any" or one of ENGAGEMENT_CHANNELS

    def holds(self, facts: SegmentFacts) -> bool:
        seen = facts.opened if self.action == "opened" else facts.clicked
        return bool(seen) if self.channel == "any" else self.channel in seen

    def explain(self, facts: SegmentFacts) -> str:
        message = _MESSAGE[self.channel]  # "an email"
        if self.action == "opened":
            noun = message.split(" ", 1)[1]
            return f"{message} was opened" if self.holds(facts) else f"no {noun} was opened"
        if self.holds(facts):
            return f"a link in {message} was clicked"
        return f"no link in {message} was clicked"


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
