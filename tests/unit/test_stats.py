"""Intervals, lift and sample sizes against published values, and an A/A coverage check."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartback.domain.stats import (
    NOT_ENOUGH_DATA,
    Group,
    carts_needed,
    lift,
    newcombe,
    wilson,
)


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (score, no correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombes_table(
    successes: int, trials: int, low: float, high: float
) -> None:
    interval = wilson(successes, trials)
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)


def test_wilson_matches_desctools_to_many_places() -> None:
    # R DescTools::BinomCI(84, 101, method = "wilson")
    interval = wilson(84, 101)
    assert interval.low == pytest.approx(0.746887910813618, abs=1e-12)
    assert interval.high == pytest.approx(0.892172254445884, abs=1e-12)


@pytest.mark.parametrize(
    ("a", "n_a", "b", "n_b", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873, Table II, method 10 (hybrid score)
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (0, 10, 0, 10, -0.2775, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0000),
        (10, 10, 0, 10, 0.6075, 1.0000),
    ],
)
def test_newcombe_matches_the_eight_worked_examples(
    a: int, n_a: int, b: int, n_b: int, low: float, high: float
) -> None:
    interval = newcombe(a, n_a, b, n_b)
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)


counts = st.integers(0, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@given(counts)
def test_wilson_lies_in_zero_one_and_holds_the_observed_rate(count: tuple[int, int]) -> None:
    successes, trials = count
    interval = wilson(successes, trials)
    assert 0 <= interval.low <= interval.high <= 1
    if trials:
        assert interval.contains(successes / trials)


@given(counts, counts)
def test_newcombe_holds_the_observed_difference_and_is_antisymmetric(
    first: tuple[int, int], second: tuple[int, int]
) -> None:
    interval = newcombe(*first, *second)
    swapped = newcombe(*second, *first)
    assert -1 <= interval.low <= interval.high <= 1
    difference = (first[0] / first[1] if first[1] else 0) - (
        second[0] / second[1] if second[1] else 0
    )
    assert interval.low - 1e-12 <= difference <= interval.high + 1e-12
    assert interval.low == pytest.approx(-swapped.high)
    assert interval.high == pytest.approx(-swapped.low)


def test_wider_confidence_gives_a_wider_interval() -> None:
    narrow, wide = newcombe(30, 300, 20, 300, 0.90), newcombe(30, 300, 20, 300, 0.99)
    assert wide.low < narrow.low and wide.high > narrow.high


@pytest.mark.parametrize(
    ("treated", "holdout", "probability", "seeds"),
    [
        (900, 100, 0.10, 2000),  # a 10% holdout at a typical recovery rate
        (500, 500, 0.05, 2000),
        (300, 60, 0.25, 2000),
    ],
)
def test_a_to_a_interval_covers_zero_about_95_percent_of_the_time(
    treated: int, holdout: int, probability: float, seeds: int
) -> None:
    """Both groups convert at the same rate: the lift's interval should hold 0 in ~95% of runs
    (binomial noise over 2,000 runs: ±1 point; the test allows ±2)."""
    covered = 0
    for seed in range(seeds):
        rng = random.Random(seed)
        a = sum(rng.random() < probability for _ in range(treated))
        b = sum(rng.random() < probability for _ in range(holdout))
        covered += newcombe(a, treated, b, holdout).contains(0)
    assert 0.93 <= covered / seeds <= 0.97


def test_carts_needed_matches_r_power_prop_test() -> None:
    # R: power.prop.test(p1 = .50, p2 = .75, power = .90)  =>  n = 76.7 per group
    assert carts_needed(0.75, 0.50, power=0.9) == (77, 77)
    assert carts_needed(0.50, 0.75, power=0.9) == (77, 77)


def test_carts_needed_with_a_small_holdout_needs_fewer_held_out_but_more_in_all() -> None:
    equal = carts_needed(0.12, 0.08)
    skewed = carts_needed(0.12, 0.08, ratio=9.0)
    assert equal is not None and skewed is not None
    assert skewed[1] < equal[1] and sum(skewed) > sum(equal)
    assert skewed[0] == pytest.approx(9 * skewed[1], abs=9)
    assert carts_needed(0.1, 0.1) is None


def test_at_the_carts_needed_the_difference_is_found_about_80_percent_of_the_time() -> None:
    per_group = carts_needed(0.20, 0.10)
    assert per_group is not None
    n = per_group[0]
    found = 0
    for seed in range(600):
        rng = random.Random(seed)
        a = sum(rng.random() < 0.20 for _ in range(n))
        b = sum(rng.random() < 0.10 for _ in range(n))
        found += newcombe(a, n, b, n).low > 0
    assert 0.72 <= found / 600 <= 0.88


def test_lift_counts_incremental_orders_revenue_and_roas() -> None:
    treated = Group(carts=1000, recovered=150, revenue=Decimal("120000"))
    holdout = Group(carts=1000, recovered=100, revenue=Decimal("80000"))
    result = lift(treated, holdout, spend=Decimal("1000"))
    assert result.absolute == pytest.approx(0.05)
    assert result.incremental_orders == pytest.approx(50)
    assert result.incremental_revenue == Decimal("40000.00")
    assert result.incremental_roas == Decimal("40.00")
    assert result.ci_low > 0 and result.significant
    assert result.verdict == "the flow recovers more carts than the holdout"
    assert result.needed is None


def test_lift_that_spans_zero_says_how_many_carts_are_needed() -> None:
    result = lift(Group(900, 99), Group(100, 9), spend=Decimal("0"))
    assert result.ci_low < 0 < result.ci_high
    assert result.verdict.startswith(NOT_ENOUGH_DATA)
    assert result.needed is not None
    assert result.needed.per_group == carts_needed(0.11, 0.09, ratio=1)[0]  # type: ignore[index]
    assert result.needed.treated > 900 and result.needed.holdout > 100
    assert f"{result.needed.holdout:,} held-out carts" in result.verdict
    assert result.incremental_roas is None  # nothing spent


def test_lift_without_held_out_carts_or_without_difference() -> None:
    assert lift(Group(50, 5), Group(0, 0), Decimal("10")).verdict == (
        f"{NOT_ENOUGH_DATA}: no held out carts yet"
    )
    same = lift(Group(100, 10), Group(100, 10), Decimal("10"))
    assert same.verdict == f"{NOT_ENOUGH_DATA}: no difference from the holdout so far"
    assert same.needed is None


def test_messages_that_cost_orders_are_called_so() -> None:
    result = lift(Group(1000, 50), Group(1000, 120), Decimal("100"))
    assert result.ci_high < 0
    assert "the holdout converts better" in result.verdict


@pytest.mark.parametrize(("successes", "trials"), [(-1, 10), (11, 10), (0, -1)])
def test_impossible_counts_are_refused(successes: int, trials: int) -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson(successes, trials)
