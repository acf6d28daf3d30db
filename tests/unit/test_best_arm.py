"""Probability that an arm is best, against the exact two-arm formula and sampling; winners."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartback.domain.best_arm import ArmCounts, Goal, judge, probability_best


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def exact_b_beats_a(recovered_a: int, carts_a: int, recovered_b: int, carts_b: int) -> float:
    """P(p_B > p_A) for Beta(1+s, 1+f) posteriors, in closed form (integer parameters)."""
    alpha_a, beta_a = 1 + recovered_a, 1 + carts_a - recovered_a
    alpha_b, beta_b = 1 + recovered_b, 1 + carts_b - recovered_b
    return sum(
        math.exp(
            _log_beta(alpha_a + i, beta_a + beta_b)
            - math.log(beta_b + i)
            - _log_beta(1 + i, beta_b)
            - _log_beta(alpha_a, beta_a)
        )
        for i in range(alpha_b)
    )


@pytest.mark.parametrize(
    "arms",
    [
        ((10, 100), (15, 100)),
        ((0, 5), (1, 5)),
        ((200, 1000), (230, 1000)),
        ((3, 30), (40, 400)),
        ((500, 5000), (540, 5000)),
        ((0, 0), (0, 0)),
    ],
)
def test_two_arms_match_the_closed_form(arms: tuple[tuple[int, int], tuple[int, int]]) -> None:
    (a, n_a), (b, n_b) = arms
    _, p_b = probability_best([(a, n_a), (b, n_b)])
    assert p_b == pytest.approx(exact_b_beats_a(a, n_a, b, n_b), abs=2e-5)


def test_three_arms_agree_with_sampling() -> None:
    counts = [(10, 100), (12, 100), (15, 100)]
    rng, draws, wins = random.Random(7), 100_000, [0, 0, 0]
    for _ in range(draws):
        sample = [rng.betavariate(1 + s, 1 + n - s) for s, n in counts]
        wins[sample.index(max(sample))] += 1
    expected = [w / draws for w in wins]
    assert probability_best(counts) == pytest.approx(expected, abs=0.006)


def test_same_counts_give_the_same_answer_every_time() -> None:
    counts = [(31, 400), (44, 410), (38, 395)]
    assert probability_best(counts) == probability_best(counts)


arm = st.integers(0, 3000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@settings(max_examples=40, deadline=None)
@given(st.lists(arm, min_size=1, max_size=4))
def test_probabilities_add_up_to_one(arms: list[tuple[int, int]]) -> None:
    chances = probability_best(arms)
    assert sum(chances) == pytest.approx(1.0, abs=1e-9)
    assert all(0 <= p <= 1 for p in chances)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2000), st.integers(0, 100), st.integers(1, 50))
def test_more_recovered_carts_never_lower_an_arms_chance(carts: int, base: int, more: int) -> None:
    recovered = min(base, carts)
    better = min(recovered + more, carts)
    other = (carts // 10, carts)
    worse_chance = probability_best([(recovered, carts), other])[0]
    better_chance = probability_best([(better, carts), other])[0]
    assert better_chance >= worse_chance - 1e-9


def test_equal_arms_are_equally_likely_best() -> None:
    assert probability_best([(20, 200)] * 3) == pytest.approx([1 / 3] * 3, abs=1e-6)


def test_a_higher_value_per_order_can_outweigh_a_lower_rate() -> None:
    counts = [(100, 1000), (110, 1000)]  # the second converts a little better
    by_rate = probability_best(counts)
    by_value = probability_best(counts, values=[200.0, 150.0])  # but earns less per order
    assert by_rate[1] > 0.5 and by_value[0] > 0.9


def arms(plain: tuple[int, int, str], ten_off: tuple[int, int, str]) -> list[ArmCounts]:
    return [
        ArmCounts("plain", plain[0], plain[1], Decimal(plain[2])),
        ArmCounts("ten-off", ten_off[0], ten_off[1], Decimal(ten_off[2])),
    ]


def test_a_winner_needs_the_probability_and_the_carts() -> None:
    clear = arms((1000, 100, "80000"), (1000, 160, "128000"))
    judged = judge(clear, min_carts=100)
    assert judged.winner == "ten-off"
    assert judged.probability_best["ten-off"] >= 0.95
    assert "every arm has 100+ carts" in judged.why

    too_few = judge(clear, min_carts=2000)
    assert too_few.winner is None
    assert "has 1000 of 2000 carts" in too_few.why

    close = judge(arms((1000, 100, "80000"), (1000, 105, "84000")), min_carts=100)
    assert close.winner is None and "below 95%" in close.why


def test_discount_arms_are_judged_by_revenue_net_of_the_discount() -> None:
    # ten-off recovers more carts, but the discount leaves less money per order
    counted = arms((2000, 200, "160000"), (2000, 240, "120000"))
    assert judge(counted, min_carts=100).winner == "ten-off"
    by_money = judge(counted, min_carts=100, goal=Goal.NET_REVENUE)
    assert by_money.winner == "plain"


def test_no_arms_no_winner() -> None:
    assert judge([], min_carts=1).winner is None
