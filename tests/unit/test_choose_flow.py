"""Choosing a cart's flow reads the person's facts only when a condition is to be evaluated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cartback.domain.events import Channel
from cartback.domain.flow import Flow, Guard, SendStep, choose_flow
from cartback.domain.segments import Country, SegmentFacts

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def _facts(country: str) -> SegmentFacts:
    return SegmentFacts(
        basket_value=None,
        currency="DKK",
        orders_count=0,
        total_spent=None,
        last_order_at=None,
        customer_tags=frozenset(),
        items=(),
        country=country,
        cart_updates=1,
        abandonments=(),
        now=NOW,
    )


def _flow(flow_id: str, *, priority: int = 0, country: str | None = None) -> Flow:
    guard = Guard(Country(in_=frozenset({country})), f"country {country}") if country else None
    steps = (SendStep(Channel.SMS),)
    return Flow(flow_id, "acme", timedelta(minutes=30), steps, priority=priority, guard=guard)


class _Asked:
    def __init__(self, country: str) -> None:
        self.country, self.times = country, 0

    def __call__(self) -> SegmentFacts:
        self.times += 1
        return _facts(self.country)


def test_a_first_flow_for_every_cart_reads_no_facts() -> None:
    asked = _Asked("DK")
    flow, why = choose_flow([_flow("later", country="DK"), _flow("all", priority=1)], asked)
    assert (flow.id if flow else None, asked.times) == ("all", 0)
    assert why == "flow all takes every cart"


def test_facts_are_read_once_for_the_conditions_before_a_match() -> None:
    asked = _Asked("SE")
    flows = [_flow("dk", priority=2, country="DK"), _flow("se", priority=1, country="SE")]
    flow, why = choose_flow([*flows, _flow("all")], asked)
    assert (flow.id if flow else None, asked.times) == ("se", 1)
    assert why.startswith("flow se: country SE holds") and "passed over: flow dk" in why


def test_no_flow_matches_with_the_reasons() -> None:
    asked = _Asked("NO")
    flow, why = choose_flow([_flow("dk", country="DK")], asked)
    assert (flow, asked.times) == (None, 1)
    assert why.startswith("flow dk: country DK does not hold")
    assert choose_flow([], asked) == (None, "the store has no flows")
