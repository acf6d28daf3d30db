"""Which of a store's rules need what only a shop's admin API knows.

Since Shopify API 2025-01 a checkout's nested customer carries no tags, order count or amount
spent, and its line items no product tags or collections. A rule on them is evaluated on data
fetched from the Admin API where the store has a token; without one it would silently be false.
`admin_needs` walks a store's flows (conditions, step conditions, wordings by segment, discount
exclusions) and names each such rule, so that the engine fetches only what is needed and
`cartback check` and a cart's timeline can say what cannot be evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cartback.domain.discounts import DiscountRule
from cartback.domain.flow import Flow, Guard, SendStep
from cartback.domain.segments import (
    All,
    Any,
    BasketItems,
    Compare,
    Condition,
    CustomerIs,
    CustomerTags,
    Not,
    SegmentRef,
)

CUSTOMER_MEASURES = frozenset({"orders_count", "total_spent"})


@dataclass(frozen=True, slots=True)
class AdminNeeds:
    """Each rule that needs admin data, named for a person ("flow vip: customer tags")."""

    customer: tuple[str, ...] = ()
    products: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.customer or self.products)

    def describe(self) -> str:
        return "; ".join((*self.customer, *self.products))


def admin_needs(flows: Iterable[Flow]) -> AdminNeeds:
    customer: dict[str, None] = {}
    products: dict[str, None] = {}
    for where, guard in _guards(flows):
        for kind, what in _walk(guard.condition, set()):
            (customer if kind == "customer" else products)[f"{where}: {what}"] = None
    for where, rule in _discounts(flows):
        if rule.exclude_tags:
            products[f"{where}: discount excluded item tags"] = None
    return AdminNeeds(tuple(customer), tuple(products))


def _guards(flows: Iterable[Flow]) -> Iterator[tuple[str, Guard]]:
    for flow in flows:
        if flow.guard is not None:
            yield f"flow {flow.id}", flow.guard
        for index, step in enumerate(flow.steps, start=1):
            where = f"flow {flow.id} step {index}"
            if step.guard is not None:
                yield where, step.guard
            if isinstance(step, SendStep):
                for guard, _template in step.wordings:
                    yield f"{where} wording", guard


def _discounts(flows: Iterable[Flow]) -> Iterator[tuple[str, DiscountRule]]:
    for flow in flows:
        for index, step in enumerate(flow.steps, start=1):
            if not isinstance(step, SendStep):
                continue
            rules = [step.discount, *(variant.discount for variant in step.variants)]
            for rule in rules:
                if rule is not None:
                    yield f"flow {flow.id} step {index}", rule


def _walk(condition: Condition, seen: set[int]) -> Iterator[tuple[str, str]]:
    """(kind, what) for each leaf that needs admin data; a segment is followed once."""
    match condition:
        case All(conditions=parts) | Any(conditions=parts):
            for part in parts:
                yield from _walk(part, seen)
        case Not(condition=inner):
            yield from _walk(inner, seen)
        case SegmentRef(target=target) if target is not None and id(target) not in seen:
            seen.add(id(target))
            yield from _walk(target, seen)
        case CustomerTags():
            yield "customer", "customer tags"
        case CustomerIs(kind=kind):
            yield "customer", f"customer {kind} (the shop's order count)"
        case Compare(measure=measure) if measure in CUSTOMER_MEASURES:
            yield "customer", measure.replace("_", " ")
        case BasketItems(tags_any=tags, collections_any=collections, tags_all=every):
            if tags or every:
                yield "products", "basket item tags"
            if collections:
                yield "products", "basket item collections"
