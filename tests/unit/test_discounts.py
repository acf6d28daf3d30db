from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cartback.domain.discounts import (
    DiscountKind,
    DiscountReason,
    DiscountRule,
    decide_discount,
    recovery_link_with_code,
)
from cartback.domain.segments import ItemFacts, SegmentFacts

NOW = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
RULE = DiscountRule(DiscountKind.PERCENTAGE, Decimal("10"), timedelta(hours=48))


def facts(
    basket: str = "500", abandonments: tuple[datetime, ...] = (NOW,), *tags: str
) -> SegmentFacts:
    return SegmentFacts(
        basket_value=Decimal(basket),
        currency="DKK",
        orders_count=1,
        total_spent=None,
        last_order_at=None,
        customer_tags=frozenset(),
        items=(ItemFacts("A-1", frozenset(tags)), ItemFacts("B-2")),
        country="DK",
        cart_updates=1,
        abandonments=abandonments,
        now=NOW,
    )


REPEAT = (NOW - timedelta(days=10), NOW)


def test_rule_without_conditions_applies() -> None:
    decision = decide_discount(RULE, facts(), cart_has_discount=False)
    assert (decision.apply, decision.reason) == (True, DiscountReason.OK)


def test_below_threshold() -> None:
    rule = replace(RULE, min_basket=Decimal("1000"))
    decision = decide_discount(rule, facts("999.99"), cart_has_discount=False)
    assert (decision.apply, decision.reason) == (False, DiscountReason.BELOW_THRESHOLD)
    assert decision.detail == "Basket 999.99 DKK is below the 1,000 needed for a code."
    assert decide_discount(rule, facts("1000"), cart_has_discount=False).apply


def test_not_repeat() -> None:
    rule = replace(RULE, repeat_abandonment=True)
    decision = decide_discount(rule, facts(), cart_has_discount=False)
    assert (decision.apply, decision.reason) == (False, DiscountReason.NOT_REPEAT)
    assert decide_discount(rule, facts("500", REPEAT), cart_has_discount=False).apply


def test_repeat_outside_the_window_does_not_count() -> None:
    rule = replace(RULE, repeat_abandonment=True, repeat_window=timedelta(days=7))
    decision = decide_discount(rule, facts("500", REPEAT), cart_has_discount=False)
    assert decision.reason == DiscountReason.NOT_REPEAT


def test_either_condition_suffices_by_default() -> None:
    rule = replace(RULE, min_basket=Decimal("1000"), repeat_abandonment=True)
    assert decide_discount(rule, facts("1500"), cart_has_discount=False).apply
    assert decide_discount(rule, facts("100", REPEAT), cart_has_discount=False).apply
    decision = decide_discount(rule, facts("100"), cart_has_discount=False)
    assert (decision.apply, decision.reason) == (False, DiscountReason.BELOW_THRESHOLD)
    assert "First abandoned cart" in decision.detail


def test_when_all_needs_both() -> None:
    rule = replace(RULE, min_basket=Decimal("1000"), repeat_abandonment=True, when="all")
    assert decide_discount(rule, facts("1500", REPEAT), cart_has_discount=False).apply
    decision = decide_discount(rule, facts("1500"), cart_has_discount=False)
    assert decision.reason == DiscountReason.NOT_REPEAT
    decision = decide_discount(rule, facts("100", REPEAT), cart_has_discount=False)
    assert decision.reason == DiscountReason.BELOW_THRESHOLD


def test_excluded_items() -> None:
    rule = replace(RULE, exclude_tags=frozenset({"gift-card", "sale"}))
    decision = decide_discount(rule, facts("5000", REPEAT, "sale"), cart_has_discount=False)
    assert (decision.apply, decision.reason) == (False, DiscountReason.EXCLUDED_ITEMS)
    assert "sale" in decision.detail
    assert decide_discount(rule, facts("5000", REPEAT, "new"), cart_has_discount=False).apply


def test_already_discounted_wins_over_everything() -> None:
    decision = decide_discount(RULE, facts("5000", REPEAT, "sale"), cart_has_discount=True)
    assert (decision.apply, decision.reason) == (False, DiscountReason.ALREADY_DISCOUNTED)


@pytest.mark.parametrize(
    ("kind", "value", "expires", "message"),
    [
        (DiscountKind.PERCENTAGE, "0", timedelta(days=1), "positive"),
        (DiscountKind.PERCENTAGE, "101", timedelta(days=1), "exceed 100"),
        (DiscountKind.FIXED, "50", timedelta(0), "expires_after"),
    ],
)
def test_invalid_rules(kind: DiscountKind, value: str, expires: timedelta, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DiscountRule(kind, Decimal(value), expires)


def test_recovery_link_with_code_keeps_path_and_query_only() -> None:
    link = recovery_link_with_code(
        "demo.myshopify.com",
        "BACK 10%",
        "https://demo.myshopify.com/123/checkouts/abc/recover?key=k1&locale=da#top",
    )
    assert link == (
        "https://demo.myshopify.com/discount/BACK%2010%25"
        "?redirect=/123/checkouts/abc/recover%3Fkey%3Dk1%26locale%3Dda"
    )


def test_recovery_link_with_base_url_and_bare_redirect() -> None:
    link = recovery_link_with_code("https://shop.example/", "SAVE/5", "https://shop.example")
    assert link == "https://shop.example/discount/SAVE%2F5?redirect=/"


def test_recovery_link_needs_a_code() -> None:
    with pytest.raises(ValueError, match="needs a code"):
        recovery_link_with_code("demo.myshopify.com", " ", "https://demo.myshopify.com/cart")
