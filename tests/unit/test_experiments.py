"""Assignment to arms and to the holdout: deterministic, sticky, split by the weights."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartback.domain.best_arm import Goal
from cartback.domain.discounts import DiscountKind, DiscountRule
from cartback.domain.events import Channel
from cartback.domain.experiments import Arm, Assignment, Experiment, Holdout, unit_hash
from cartback.domain.flow import Flow, SendStep, Timing, Translation, Variant, WaitStep

CARTS = [f"checkout-{n}" for n in range(10_000)]


def within_binomial_noise(count: int, total: int, share: float) -> bool:
    """Within 4 standard deviations of the expected count (a false alarm about 1 in 16,000)."""
    spread = (total * share * (1 - share)) ** 0.5
    return abs(count - total * share) <= 4 * spread


@pytest.mark.parametrize(
    "weights", [(1.0, 1.0), (1.0, 3.0), (2.0, 1.0, 1.0), (0.5, 0.25, 0.25), (1.0, 0.0, 1.0)]
)
def test_the_split_follows_the_weights_within_binomial_noise(weights: tuple[float, ...]) -> None:
    arms = tuple(Arm(f"arm{n}", w) for n, w in enumerate(weights))
    experiment = Experiment("split-test", arms)
    counts = Counter(experiment.assign(cart) for cart in CARTS)
    for arm in arms:
        share = arm.weight / sum(weights)
        assert within_binomial_noise(counts[arm.name], len(CARTS), share), (arm, counts)
    assert counts["arm1"] > 0 or weights[1] == 0


@given(st.text(min_size=1), st.text(min_size=1))
def test_the_same_cart_always_gets_the_same_arm(experiment_id: str, cart: str) -> None:
    experiment = Experiment(experiment_id, (Arm("a", 1), Arm("b", 1), Arm("c", 2)))
    assert experiment.assign(cart) == experiment.assign(cart)
    assert 0 <= unit_hash("arm", experiment_id, cart) < 1


def test_the_hash_is_pinned() -> None:
    """If this changes, every running experiment reshuffles the carts not yet recorded."""
    experiment = Experiment("delay-2026-12", (Arm("fast", 1), Arm("slow", 1)))
    assert [experiment.assign(f"checkout-{n}") for n in range(8)] == [
        "slow",
        "fast",
        "fast",
        "slow",
        "slow",
        "slow",
        "slow",
        "fast",
    ]
    assert unit_hash("arm", "delay-2026-12", "checkout-0") == pytest.approx(0.7224558358739698)
    assert unit_hash("holdout", "cart-sms", "checkout-0") == pytest.approx(0.657440802181019)


def test_different_experiments_split_the_same_carts_independently() -> None:
    first = Experiment("one", (Arm("a", 1), Arm("b", 1)))
    second = Experiment("two", (Arm("a", 1), Arm("b", 1)))
    together = Counter((first.assign(c), second.assign(c)) for c in CARTS)
    for pair in (("a", "a"), ("a", "b"), ("b", "a"), ("b", "b")):
        assert within_binomial_noise(together[pair], len(CARTS), 0.25)


def test_holdout_share_is_within_noise_and_says_nothing_about_the_arm() -> None:
    holdout = Holdout("cart-sms", Decimal("0.10"))
    experiment = Experiment("cart-sms.step1", (Arm("plain", 1), Arm("ten-off", 1)))
    held = [cart for cart in CARTS if holdout.holds_out(cart)]
    assert within_binomial_noise(len(held), len(CARTS), 0.10)
    arms_of_held = Counter(experiment.assign(cart) for cart in held)
    assert within_binomial_noise(arms_of_held["plain"], len(held), 0.5)
    assert all(holdout.holds_out(cart) for cart in held)  # and again, the same answer


def test_no_holdout_share_holds_nobody_out() -> None:
    assert not any(Holdout("f", Decimal(0)).holds_out(cart) for cart in CARTS[:1000])


def test_auto_winner_sends_new_carts_to_the_winner_once_called() -> None:
    arms = (Arm("plain", 1), Arm("ten-off", 1))
    automatic = Experiment("x", arms, auto_winner=True)
    manual = Experiment("x", arms)
    assert {automatic.assign(c, winner="plain") for c in CARTS[:200]} == {"plain"}
    assert {manual.assign(c, winner="plain") for c in CARTS[:200]} == {"plain", "ten-off"}
    assert automatic.assign("c1", winner="gone") == manual.assign("c1")


@pytest.mark.parametrize("weights", [(), (0.0, 0.0), (1.0, -1.0)])
def test_an_experiment_needs_a_positive_weight(weights: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="weight"):
        Experiment("x", tuple(Arm(f"a{n}", w) for n, w in enumerate(weights)))


# A flow with a holdout, a timing test and an A/B step -------------------------------------

TEN_OFF = DiscountRule(
    kind=DiscountKind.PERCENTAGE, value=Decimal(10), expires_after=timedelta(hours=48)
)
SMS = SendStep(
    Channel.SMS,
    template="Hi {{ first_name }}: {{ link }}",
    variants=(
        Variant("plain"),
        Variant(
            "ten-off",
            template="Hi, {{ discount }} off: {{ link }}",
            translations=(
                Translation("en", "Hi, {{ discount }} off: {{ link }}"),
                Translation("da", "Hej, {{ discount }} rabat: {{ link }}"),
            ),
            discount=TEN_OFF,
        ),
    ),
    experiment=Experiment(
        "cart-sms.step1", (Arm("plain", 1), Arm("ten-off", 1)), goal=Goal.NET_REVENUE
    ),
)
FLOW = Flow(
    id="cart-sms",
    store_id="demo",
    abandon_after=timedelta(minutes=30),
    steps=(SMS, WaitStep(timedelta(hours=24), name="follow-up"), SendStep(Channel.EMAIL)),
    experiment=Experiment("delay", (Arm("fast", 1), Arm("slow", 1))),
    timings=(
        Timing("fast", abandon_after=timedelta(minutes=20)),
        Timing("slow", abandon_after=timedelta(hours=2), waits=((1, timedelta(hours=12)),)),
    ),
    holdout=Holdout("cart-sms", Decimal("0.2")),
)


def test_assign_records_every_experiment_of_the_flow() -> None:
    assignment = FLOW.assign("checkout-1")
    assert [experiment for experiment, _ in assignment.arms] == ["delay", "cart-sms.step1"]
    assert assignment == FLOW.assign("checkout-1")
    held = Counter(FLOW.assign(cart).held_out for cart in CARTS)
    assert within_binomial_noise(held[True], len(CARTS), 0.2)


def test_the_cart_runs_the_flow_of_its_arms() -> None:
    slow = Assignment(False, (("delay", "slow"), ("cart-sms.step1", "ten-off")))
    flow = FLOW.for_cart("checkout-1", slow)
    assert flow.abandon_after == timedelta(hours=2)
    assert flow.steps[1] == WaitStep(timedelta(hours=12), name="follow-up")
    first = flow.steps[0]
    assert isinstance(first, SendStep)
    assert first.discount == TEN_OFF and first.template == "Hi, {{ discount }} off: {{ link }}"
    assert first.variants == () and first.experiment is None
    assert first.arm == ("cart-sms.step1", "ten-off")  # for the message's record
    assert flow.experiments == ()

    fast = FLOW.for_cart("checkout-1", Assignment(False, (("delay", "fast"),)))
    assert fast.abandon_after == timedelta(minutes=20)
    assert fast.steps[1] == FLOW.steps[1]  # the fast arm keeps the wait


def test_the_recorded_arm_stays_when_the_weights_change() -> None:
    recorded = FLOW.assign("checkout-7")
    arm = recorded.arm("delay")
    other = "slow" if arm == "fast" else "fast"
    reweighted = replace(FLOW, experiment=Experiment("delay", (Arm(arm or "", 0), Arm(other, 1))))
    assert reweighted.assign("checkout-7").arm("delay") == other  # a new cart would move
    timing = next(t for t in FLOW.timings if t.arm == arm)
    assert reweighted.for_cart("checkout-7", recorded).abandon_after == timing.abandon_after


def test_an_experiment_the_assignment_does_not_know_is_assigned_by_hash() -> None:
    flow = FLOW.for_cart("checkout-3", Assignment())
    expected = FLOW.assign("checkout-3").arm("cart-sms.step1")
    first = flow.steps[0]
    assert isinstance(first, SendStep)
    assert (first.discount is not None) == (expected == "ten-off")


def test_the_shortest_wait_of_any_arm_is_known() -> None:
    assert FLOW.shortest_abandon_after == timedelta(minutes=20)


def test_a_variant_without_a_discount_gives_none_and_keeps_the_steps_words() -> None:
    plain = SMS.for_variant("plain")
    assert plain.discount is None and plain.template == SMS.template
    with pytest.raises(ValueError, match="no variant"):
        SMS.for_variant("gone")


def test_the_buyers_language_chooses_the_words() -> None:
    ten_off = SMS.for_variant("ten-off")
    danish, language = ten_off.in_language("da-DK", "en")
    assert language == "da" and danish.template == "Hej, {{ discount }} rabat: {{ link }}"
    english, language = ten_off.in_language("en-GB", "da")
    assert language == "en" and english.template == "Hi, {{ discount }} off: {{ link }}"
    assert english.translations == ()  # chosen once
    assert ten_off.in_language("sv", None)[1] == "en"  # the first written
    plain, language = SMS.for_variant("plain").in_language("da", None)
    assert language is None and plain.template == SMS.template


def test_assignment_as_a_mapping_round_trips() -> None:
    assignment = FLOW.assign("checkout-9")
    restored = Assignment.from_mapping(assignment.held_out, assignment.as_mapping())
    assert restored == assignment
