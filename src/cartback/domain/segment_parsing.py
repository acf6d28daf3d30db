"""Reading segments from plain configuration: the condition language and its errors.

Every error names the segment and the path of the condition, e.g.
`segments.vip.any[1].basket_value: 'gte' must be an amount, got 'lots'`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from cartback.domain.money import MoneyError, parse_amount
from cartback.domain.segments import (
    _DURATION,
    _OPS,
    ENGAGEMENT_CHANNELS,
    MEASURES,
    AbandonedTimes,
    All,
    Any,
    BasketItems,
    Bounds,
    Compare,
    Condition,
    Country,
    CustomerIs,
    CustomerTags,
    Engaged,
    Not,
    SegmentError,
    SegmentFacts,
    SegmentRef,
    _list,
)

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


def _engagement(action: Literal["opened", "clicked"], channels: Sequence[str]) -> _Parser:
    def parse(value: object, where: str) -> Condition:
        if value not in channels:
            raise SegmentError(f"{where}: expected one of {', '.join(channels)}, got {value!r}")
        return Engaged(action, str(value))

    return parse


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
    "opened": _engagement("opened", ("email", "any")),
    "clicked": _engagement("clicked", ("any", *ENGAGEMENT_CHANNELS)),
}
