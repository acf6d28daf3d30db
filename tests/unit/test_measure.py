"""From outcomes to figures: who counts as recovered, revenue net of discounts, arms, rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from cartback.domain.best_arm import Goal
from cartback.domain.breakdown import By, breakdown
from cartback.domain.experiments import Arm, Experiment
from cartback.domain.measure import Counting, measure, tally
from cartback.domain.outcomes import CartOutcome, PlacedOrder, SentMessage

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
COUNTING = Counting(timedelta(days=5), "DKK")
OFFER = Experiment(
    "cart.step1", (Arm("plain", 1), Arm("ten-off", 1)), min_carts_per_arm=1, goal=Goal.NET_REVENUE
)


def sms(cost: str = "0.30", **more: object) -> SentMessage:
    return SentMessage("m", "sms", 0, Decimal(cost), T0, **more)  # type: ignore[arg-type]


def cart(
    n: int,
    *,
    held: bool = False,
    arm: str = "plain",
    after: timedelta | None = timedelta(hours=1),
    total: str = "100",
    discount: str = "0",
    currency: str = "DKK",
    messages: tuple[SentMessage, ...] = (),
) -> CartOutcome:
    order = None
    if after is not None:
        order = PlacedOrder(T0 + after, currency, Decimal(total), Decimal(discount))
    arms = (("cart.step1", arm),)
    return CartOutcome(n, "cart", T0, held, arms, messages, order)


def test_recovered_means_ordered_within_the_window_after_abandonment() -> None:
    found = tally(
        [
            cart(1),
            cart(2, after=timedelta(days=6)),  # too late
            cart(3, after=None),
            cart(4, after=timedelta(hours=2), currency="EUR"),  # recovered, money apart
        ],
        COUNTING,
    )
    assert (found.carts, found.recovered, found.revenue) == (4, 2, Decimal("100"))


def test_a_discount_arm_earns_its_revenue_net_of_the_discount() -> None:
    outcomes = [
        cart(1, arm="plain", total="100"),
        cart(2, arm="ten-off", total="90", discount="10"),
    ]
    [result] = measure(outcomes, [OFFER], COUNTING).experiments
    plain, ten_off = result.arms
    assert (plain.tally.revenue, plain.tally.discount_cost) == (Decimal("100"), Decimal("0"))
    assert (ten_off.tally.revenue, ten_off.tally.discount_cost) == (Decimal("80"), Decimal("10"))
    assert result.probability_best["plain"] > result.probability_best["ten-off"]


def test_held_out_carts_are_no_arm_s_carts() -> None:
    outcomes = [cart(1), cart(2, held=True), cart(3, arm="ten-off")]
    found = measure(outcomes, [OFFER], COUNTING)
    assert (found.holdout.carts, found.treated.carts) == (1, 2)
    assert [a.tally.carts for a in found.experiments[0].arms] == [1, 1]


def test_clicks_opens_and_spend_come_from_the_messages() -> None:
    messages = (sms(clicks=2, bot_clicks=3, opens=1), sms("0.60"))
    found = tally([cart(1, messages=messages)], COUNTING)
    assert (found.messages, found.clicks, found.bot_clicks, found.opens) == (2, 2, 3, 1)
    assert found.spend == Decimal("0.90")


def test_rows_by_flow_hold_a_lift_and_rows_by_arm_end_with_the_holdout() -> None:
    outcomes = [cart(1), cart(2, held=True, after=None), cart(3, arm="ten-off")]
    [flow] = breakdown(outcomes, By.FLOW, COUNTING)
    assert flow.key == "cart" and flow.tally.carts == 2 and flow.lift is not None
    assert flow.lift.absolute == 1.0
    rows = breakdown(outcomes, By.ARM, COUNTING)
    assert [(r.key, r.tally.carts) for r in rows] == [
        ("cart.step1/plain", 1),
        ("cart.step1/ten-off", 1),
        ("holdout", 1),
    ]
    [segment] = breakdown(outcomes, By.SEGMENT, COUNTING, {"cart": "segment vip"})
    assert segment.key == "segment vip"


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 200)), max_size=40))
def test_the_groups_split_every_cart_once(carts: list[tuple[bool, int]]) -> None:
    outcomes = [
        cart(n, held=held, after=timedelta(hours=hours) if hours < 150 else None)
        for n, (held, hours) in enumerate(carts)
    ]
    found = measure(outcomes, [], COUNTING)
    assert found.holdout.carts + found.treated.carts == len(carts)
    recovered = sum(1 for o in outcomes if o.recovered(COUNTING.window))
    assert found.holdout.recovered + found.treated.recovered == recovered
    assert found.lift.ci_low <= found.lift.absolute <= found.lift.ci_high
