from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartback.domain.segment_parsing import (
    Segments,
    parse_condition,
    parse_duration,
    parse_segments,
)
from cartback.domain.segments import (
    All,
    Any,
    Condition,
    ItemFacts,
    Not,
    SegmentError,
    SegmentFacts,
)

NOW = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
FACTS = SegmentFacts(
    basket_value=Decimal("1250.00"),
    currency="DKK",
    orders_count=3,
    total_spent=Decimal("4000"),
    last_order_at=NOW - timedelta(days=45, hours=3),
    customer_tags=frozenset({"vip", "newsletter"}),
    items=(
        ItemFacts("SKU-1", frozenset({"sale", "shoes"}), frozenset({"summer"})),
        ItemFacts("SKU-2", frozenset({"sale"})),
    ),
    country="DK",
    cart_updates=4,
    abandonments=(NOW - timedelta(days=40), NOW - timedelta(days=5), NOW),
    now=NOW,
)
NEWCOMER = replace(
    FACTS,
    orders_count=None,
    total_spent=None,
    last_order_at=None,
    customer_tags=frozenset(),
    country=None,
)


def c(data: object) -> Condition:
    return parse_condition(data, "segments.test")


@pytest.mark.parametrize(
    ("data", "holds", "explained"),
    [
        ({"customer": "returning"}, True, "customer is returning (3 previous orders)"),
        ({"customer": "new"}, False, "customer is returning (3 previous orders), not new"),
        ({"basket_value": {"gte": 1000}}, True, "basket 1,250.00 DKK ≥ 1,000"),
        ({"basket_value": {"lt": "1000"}}, False, "basket 1,250.00 DKK, not < 1,000"),
        (
            {"basket_value": {"gt": 1000, "lte": "1250.00"}},
            True,
            "basket 1,250.00 DKK > 1,000 and ≤ 1,250.00",
        ),
        ({"orders_count": {"gte": 3}}, True, "orders 3 ≥ 3"),
        ({"orders_count": {"gt": 3}}, False, "orders 3, not > 3"),
        ({"total_spent": {"gte": 1000}}, True, "total spent 4,000.00 DKK ≥ 1,000"),
        ({"days_since_last_order": {"gte": 45}}, True, "last order 45 days ago ≥ 45"),
        ({"days_since_last_order": {"gte": 46}}, False, "last order 45 days ago, not ≥ 46"),
        ({"customer_tags": {"includes": "VIP"}}, True, "customer tags include vip"),
        (
            {"customer_tags": {"includes": ["gold", "silver"]}},
            False,
            "customer tags include none of gold, silver",
        ),
        (
            {"customer_tags": {"excludes": ["newsletter"]}},
            False,
            "customer tags include excluded newsletter",
        ),
        ({"basket_items": {"skus_any": "SKU-2"}}, True, "a basket item with SKU SKU-2"),
        ({"basket_items": {"tags_any": ["Shoes"]}}, True, "a basket item tagged shoes"),
        (
            {"basket_items": {"collections_any": ["winter"]}},
            False,
            "no basket item in collection winter",
        ),
        ({"basket_items": {"tags_all": "sale"}}, True, "every basket item tagged sale"),
        ({"basket_items": {"tags_all": "shoes"}}, False, "not every basket item tagged shoes"),
        (
            {"abandoned_times": {"gte": 2, "within": "30d"}},
            True,
            "abandoned 2 carts in the last 30d ≥ 2",
        ),
        (
            {"abandoned_times": {"gte": 2, "within": "24h"}},
            False,
            "abandoned 1 carts in the last 1d, not ≥ 2",
        ),
        ({"abandoned_times": {"gte": 3}}, True, "abandoned 3 carts ≥ 3"),
        ({"cart_updates": {"gte": 5}}, False, "cart updated 4 times, not ≥ 5"),
        ({"country": {"in": ["dk", "SE"]}}, True, "country DK matches in DK, SE"),
        ({"country": {"not_in": ["DK"]}}, False, "country DK does not match not in DK"),
    ],
)
def test_leaves(data: object, holds: bool, explained: str) -> None:
    condition = c(data)
    assert condition.holds(FACTS) is holds
    assert condition.explain(FACTS) == explained


@pytest.mark.parametrize(
    ("data", "holds", "explained"),
    [
        ({"customer": "new"}, True, "customer is new (0 previous orders)"),
        ({"orders_count": {"lte": 0}}, True, "orders 0 ≤ 0"),
        (
            {"days_since_last_order": {"gte": 30}},
            False,
            "no previous order, so days since last order is not ≥ 30",
        ),
        ({"total_spent": {"lt": 100}}, False, "total spent is unknown, so it is not < 100"),
        ({"country": {"in": ["DK"]}}, False, "country unknown does not match in DK"),
        ({"country": {"not_in": ["US"]}}, True, "country unknown matches not in US"),
    ],
)
def test_leaves_with_missing_facts(data: object, holds: bool, explained: str) -> None:
    condition = c(data)
    assert condition.holds(NEWCOMER) is holds
    assert condition.explain(NEWCOMER) == explained


def test_empty_basket_has_no_item_matching_tags_all() -> None:
    assert not c({"basket_items": {"tags_all": "sale"}}).holds(replace(FACTS, items=()))


def test_combinations_and_explanations() -> None:
    data = {
        "any": [
            {"basket_value": {"gte": 2000}},
            {"customer_tags": {"includes": "vip"}, "country": {"in": ["DK"]}},
        ]
    }
    condition = c(data)
    assert condition.holds(FACTS)
    assert condition.explain(FACTS) == "customer tags include vip; country DK matches in DK"
    assert not condition.holds(NEWCOMER)
    assert condition.explain(NEWCOMER) == (
        "none of: basket 1,250.00 DKK, not ≥ 2,000; customer tags include none of vip; "
        "country unknown does not match in DK"
    )
    negated = c({"not": data})
    assert negated.holds(NEWCOMER)
    assert negated.explain(FACTS).startswith("not (customer tags include vip")


def test_all_explains_only_what_fails() -> None:
    condition = c({"all": [{"customer": "returning"}, {"cart_updates": {"gte": 9}}]})
    assert not condition.holds(FACTS)
    assert condition.explain(FACTS) == "cart updated 4 times, not ≥ 9"


def test_segments_refer_to_each_other() -> None:
    segments = Segments.from_config(
        {
            "big_basket": {"basket_value": {"gte": 1000}},
            "vip": {"any": [{"segment": "big_basket"}, {"customer_tags": {"includes": "vip"}}]},
            "first_timers": {"customer": "new", "not": {"segment": "vip"}},
        }
    )
    assert segments.matches("vip", FACTS)
    assert not segments.matches("first_timers", FACTS)
    assert segments.explain("vip", FACTS) == (
        "segment vip matches: segment big_basket: basket 1,250.00 DKK ≥ 1,000; "
        "customer tags include vip"
    )
    small = replace(NEWCOMER, basket_value=Decimal("10"))
    assert segments.matches("first_timers", small)
    with pytest.raises(SegmentError, match="unknown segment 'nope'"):
        segments.matches("nope", FACTS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"vip": {"any": [{"customer": "new"}, {"basket_value": {"gte": "lots"}}]}},
            "segments.vip.any[1].basket_value: 'gte' must be an amount, got 'lots'",
        ),
        (
            {"vip": {"basket_valu": {"gte": 1}}},
            "segments.vip: unknown condition 'basket_valu' (known: abandoned_times, all, any, ",
        ),
        ({"vip": {"customer": "old"}}, "segments.vip.customer: expected 'new' or 'returning'"),
        ({"vip": {"basket_value": 100}}, "segments.vip.basket_value: expected a mapping like"),
        ({"vip": {"basket_value": {"gtee": 1}}}, "unknown option 'gtee' (known: gt, gte, lt, lte)"),
        ({"vip": {"orders_count": {"gte": 1.5}}}, "'gte' must be a whole number ≥ 0, got 1.5"),
        ({"vip": {"orders_count": {"gte": True}}}, "'gte' must be a whole number ≥ 0, got True"),
        ({"vip": {"cart_updates": {"gte": -1}}}, "segments.vip.cart_updates: 'gte' must be"),
        ({"vip": {"any": []}}, "segments.vip.any: expected a non-empty list of conditions"),
        ({"vip": {"all": "x"}}, "segments.vip.all: expected a non-empty list of conditions"),
        ({"vip": {}}, "segments.vip: expected a condition such as"),
        ({"vip": {"not": "x"}}, "segments.vip.not: expected a condition such as"),
        ({"vip": {"segment": 3}}, "segments.vip.segment: expected a segment name, got 3"),
        (
            {"vip": {"all": [{"segment": "vipp"}]}},
            "segments.vip.all[0].segment: unknown segment 'vipp' (known: vip)",
        ),
        (
            {"vip": {"customer_tags": {"includes": ["a", 3]}}},
            "segments.vip.customer_tags: 'includes' must be a name or a list of names",
        ),
        ({"vip": {"customer_tags": {}}}, "segments.vip.customer_tags: expected a mapping like"),
        (
            {"vip": {"abandoned_times": {"gte": 2, "within": "a month"}}},
            "segments.vip.abandoned_times: 'within': 'a month' is not a duration",
        ),
        ({"vip": {"abandoned_times": {"within": "30d"}}}, "needs at least one of gte, gt, lte, lt"),
        ({"vip": {"country": {"among": ["DK"]}}}, "unknown option 'among' (known: in, not_in)"),
        (
            {"vip": {"basket_items": {"skus": "A"}}},
            "unknown option 'skus' (known: collections_any, skus_any, tags_all, tags_any)",
        ),
    ],
)
def test_errors_name_the_segment_and_path(data: dict[str, object], message: str) -> None:
    with pytest.raises(SegmentError) as info:
        parse_segments(data)
    assert message in str(info.value)


def test_segments_must_be_a_mapping() -> None:
    with pytest.raises(SegmentError, match="expected a mapping of names"):
        parse_segments(["vip"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "cycle"),
    [
        ({"a": {"segment": "a"}}, "a -> a"),
        ({"a": {"segment": "b"}, "b": {"not": {"segment": "a"}}}, "a -> b -> a"),
        (
            {"a": {"customer": "new"}, "b": {"segment": "c"}, "c": {"any": [{"segment": "b"}]}},
            "b -> c -> b",
        ),
    ],
)
def test_cycles_are_a_config_error(data: dict[str, object], cycle: str) -> None:
    with pytest.raises(SegmentError, match="in a cycle: " + cycle):
        parse_segments(data)


def test_parse_duration() -> None:
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration(" 1d12h ") == timedelta(days=1, hours=12)
    assert parse_duration("2w") == timedelta(weeks=2)
    for bad in ("", "30", "d", "1.5h", "30 days"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)


# Property tests: negation and De Morgan over random leaves and random facts.

LEAVES = [
    {"customer": "new"},
    {"basket_value": {"gte": 500}},
    {"basket_value": {"lt": "99.5"}},
    {"orders_count": {"gte": 2}},
    {"total_spent": {"gt": 1000}},
    {"days_since_last_order": {"gte": 30}},
    {"customer_tags": {"includes": ["vip", "gold"]}},
    {"customer_tags": {"excludes": "wholesale"}},
    {"basket_items": {"tags_any": "sale"}},
    {"basket_items": {"tags_all": "sale"}},
    {"abandoned_times": {"gte": 2, "within": "30d"}},
    {"cart_updates": {"lte": 3}},
    {"country": {"in": ["DK", "SE"]}},
]

tags = st.frozensets(st.sampled_from(["vip", "gold", "wholesale", "sale", "new"]), max_size=3)
facts_strategy = st.builds(
    SegmentFacts,
    basket_value=st.decimals(min_value=0, max_value=2000, places=2),
    currency=st.just("DKK"),
    orders_count=st.one_of(st.none(), st.integers(0, 5)),
    total_spent=st.one_of(st.none(), st.decimals(min_value=0, max_value=3000, places=2)),
    last_order_at=st.one_of(
        st.none(), st.integers(0, 90 * 24).map(lambda h: NOW - timedelta(hours=h))
    ),
    customer_tags=tags,
    items=st.lists(st.builds(ItemFacts, st.just("S"), tags), max_size=3).map(tuple),
    country=st.sampled_from([None, "DK", "SE", "US"]),
    cart_updates=st.integers(0, 6),
    abandonments=st.lists(
        st.integers(0, 60).map(lambda d: NOW - timedelta(days=d)), max_size=4
    ).map(tuple),
    now=st.just(NOW),
)
leaves = st.sampled_from(LEAVES).map(c)


@given(leaves, facts_strategy)
def test_not_negates(leaf: Condition, facts: SegmentFacts) -> None:
    assert Not(leaf).holds(facts) == (not leaf.holds(facts))


@given(st.lists(leaves, min_size=1, max_size=4), facts_strategy)
def test_de_morgan(conditions: list[Condition], facts: SegmentFacts) -> None:
    group = tuple(conditions)
    negated = tuple(Not(x) for x in group)
    assert Not(All(group)).holds(facts) == Any(negated).holds(facts)
    assert Not(Any(group)).holds(facts) == All(negated).holds(facts)
    assert isinstance(All(group).explain(facts), str)
