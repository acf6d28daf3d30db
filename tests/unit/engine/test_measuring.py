"""The honest report on the engine: holdout and treated groups, the lift's interval around a
known true lift, experiment arms with revenue net of discounts, clicks apart from bots', and
breakdowns."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from cartback.domain.breakdown import By
from cartback.domain.engagement import Click
from tests.unit.engine.rig import Rig, make_rig
from tests.unit.engine.test_experiments import VARIANT, carts, drain, measured_config

TREATED_RATE, HELD_RATE = 0.30, 0.10


def ordered_at_known_rates(rig: Rig, count: int, seed: int = 7) -> None:
    """Each abandoned cart orders (200.00) within the window: 30% treated, 10% held out."""
    chance = random.Random(seed)
    rig.clock.advance(timedelta(hours=2))
    for n in range(count):
        held = rig.run("north", f"c{n}").held_out
        if chance.random() < (HELD_RATE if held else TREATED_RATE):
            rig.order("north", f"o{n}", email=f"c{n}@example.com", cart_key=f"c{n}")


def thousand_carts() -> Rig:
    rig = make_rig(measured_config())
    carts(rig, 1000)
    rig.clock.advance(timedelta(hours=1))
    drain(rig)
    ordered_at_known_rates(rig, 1000)
    return rig


def test_the_lift_interval_contains_the_true_lift() -> None:
    rig = thousand_carts()
    found = rig.report()
    assert found.holdout is not None and found.treated is not None and found.lift is not None
    assert found.holdout.carts + found.treated.carts == 1000
    assert abs(found.treated.conversion - TREATED_RATE) < 0.05
    true_lift = TREATED_RATE - HELD_RATE
    assert found.lift.ci_low <= true_lift <= found.lift.ci_high
    assert found.lift.ci_low > 0 and found.lift.verdict.startswith("the flow recovers more")
    assert found.lift.carts_needed is None
    treated_revenue = Decimal(200 * found.treated.recovered)
    per_held = Decimal(200 * found.holdout.recovered) / found.holdout.carts
    expected = treated_revenue - per_held * found.treated.carts
    assert abs(found.lift.incremental_revenue - expected) < 1
    assert found.lift.incremental_roas == (
        found.lift.incremental_revenue / (Decimal("0.30") * found.messages_sent)
    ).quantize(Decimal("0.01"))


def test_few_carts_say_not_enough_data_with_the_carts_needed() -> None:
    rig = make_rig(measured_config(holdout="50%"))
    carts(rig, 20)
    rig.clock.advance(timedelta(hours=1))
    drain(rig)
    ordered_at_known_rates(rig, 20, seed=3)
    lift = rig.report().lift
    assert lift is not None and lift.ci_low < 0 < lift.ci_high
    assert lift.verdict.startswith("not enough data yet")
    assert lift.carts_needed is not None and lift.carts_needed.treated > 10


def test_each_experiment_lists_its_arms_and_the_probability_each_is_best() -> None:
    found = thousand_carts().report()
    [timing, variant] = found.experiments
    assert (timing.id, variant.id) == ("delay", VARIANT)
    assert [arm.name for arm in timing.arms] == ["fast", "slow"]
    assert sum(arm.carts for arm in timing.arms) == found.treated.carts  # type: ignore[union-attr]
    for arm in variant.arms:
        assert arm.ci_low <= arm.conversion <= arm.ci_high
        assert arm.messages == arm.carts  # one SMS each
        assert arm.revenue == 200 * arm.recovered and arm.spend == Decimal("0.30") * arm.carts
    assert abs(sum(timing.probability_best.values()) - 1) < 1e-3
    assert variant.winner is None  # the same 30% either way: no arm is 95% sure to be best


def test_bot_clicks_are_counted_apart_and_rows_break_the_figures_down() -> None:
    rig = thousand_carts()
    story = rig.story(
        "north", next(f"c{n}" for n in range(50) if not rig.run("north", f"c{n}").held_out)
    )
    [sms] = story.messages
    with rig.store.transaction() as tx:
        at = rig.clock.now()
        tx.messages.add_click(Click(sms.link_code or "", sms.id, sms.cart_id, at, "Mozilla/5.0"))
        tx.messages.add_click(
            Click(sms.link_code or "", sms.id, sms.cart_id, at, "Slackbot", 0, "Slack preview")
        )
    found = rig.report(by=By.ARM)
    assert (found.clicks, found.bot_clicks) == (1, 1)
    assert found.rows is not None
    keys = [row.key for row in found.rows]
    assert keys == ["delay/fast", "delay/slow", f"{VARIANT}/plain", f"{VARIANT}/warm", "holdout"]
    assert found.rows[-1].messages == 0 and found.rows[-1].carts == found.holdout.carts  # type: ignore[union-attr]
    by_flow = rig.report(by=By.FLOW).rows
    assert by_flow is not None and [row.key for row in by_flow] == ["north-test"]
    assert by_flow[0].lift is not None and by_flow[0].carts == found.treated.carts  # type: ignore[union-attr]
    by_step = rig.report(by=By.STEP).rows
    assert by_step is not None and [row.key for row in by_step] == ["north-test step 1"]
    by_channel = rig.report(by=By.CHANNEL).rows
    assert by_channel is not None and by_channel[0].key == "sms" and by_channel[0].clicks == 1
    by_day = rig.report(by=By.DAY).rows
    assert by_day is not None and len(by_day) == 1


AUTO = """
- send: sms
  experiment: {auto_winner: true, min_carts_per_arm: 20}
  variants:
    - {name: plain, template: "Plain {{ link }}"}
    - {name: warm, template: "Warm {{ link }}"}
"""


def test_auto_winner_calls_the_winner_and_sends_new_carts_to_it() -> None:
    rig = make_rig(measured_config(steps=AUTO, holdout="0%"))
    carts(rig, 200)
    rig.clock.advance(timedelta(hours=1))
    drain(rig)
    rig.clock.advance(timedelta(hours=1))
    for n in range(200):
        if dict(rig.run("north", f"c{n}").arms)[VARIANT] == "warm" or n % 10 == 0:
            rig.order("north", f"o{n}", email=f"c{n}@example.com", cart_key=f"c{n}")
    assert rig.runtime.worker.run_once() == 0  # the job's first turn calls the winner
    [_timing, variant] = rig.report().experiments
    assert variant.winner == "warm" and variant.auto_winner is not None
    assert variant.auto_winner.arm == "warm" and "best with probability" in variant.auto_winner.why
    carts(rig, 20, first=200)
    rig.clock.advance(timedelta(hours=1))
    drain(rig)
    assert {dict(rig.run("north", f"c{n}").arms)[VARIANT] for n in range(200, 220)} == {"warm"}
