"""Experiments and the holdout in the engine, on the in-memory store: who is held out, which
arm a cart gets, that both stick, and what a held-out cart's timeline says."""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta

from cartback.domain.events import Consent
from cartback.domain.records import DecisionAction, RunStatus
from cartback.runtime import build
from tests.integration.test_policy_rules import config_yaml, flow_yaml
from tests.unit.engine.rig import Rig, make_rig, settings_from

STEPS = """
- send: sms
  variants:
    - {name: plain, template: "Plain {{ link }}"}
    - {name: warm, template: "Warm {{ link }}"}
- wait: 1d
- send: email
"""
TIMING = "{id: delay, arms: [{name: fast, abandon_after: 20m}, {name: slow, abandon_after: 1h}]}"
VARIANT = "north-test.step1"


def measured_config(timing: str = TIMING, steps: str = STEPS, holdout: str = "20%") -> str:
    flow = flow_yaml("north-test", "north", steps, holdout=holdout, experiment=timing)
    return config_yaml(flow)


def phone(n: int) -> str:
    return f"+452012{n:04d}"


def drain(rig: Rig) -> None:
    while rig.tick():
        pass


def carts(rig: Rig, count: int, first: int = 0) -> None:
    for n in range(first, first + count):
        rig.cart("north", f"c{n}", phone=phone(n), email=f"c{n}@example.com")


def within_noise(found: int, trials: int, share: float) -> bool:
    """Within four standard deviations of a binomial's mean."""
    return abs(found - trials * share) <= 4 * math.sqrt(trials * share * (1 - share))


def test_a_thousand_carts_split_by_holdout_and_arms_within_binomial_noise() -> None:
    rig = make_rig(measured_config())
    carts(rig, 1000)
    rig.clock.advance(timedelta(minutes=20))
    drain(rig)
    fast_sent = len(rig.sms.sent)
    rig.clock.advance(timedelta(minutes=40))
    drain(rig)
    runs = [rig.run("north", f"c{n}") for n in range(1000)]
    assert all(run.assignment is not None for run in runs)
    held = [run for run in runs if run.held_out]
    timing = Counter(dict(run.arms)["delay"] for run in runs)
    variant = Counter(dict(run.arms)[VARIANT] for run in runs)
    assert within_noise(len(held), 1000, 0.2)
    assert within_noise(timing["fast"], 1000, 0.5) and timing["fast"] + timing["slow"] == 1000
    assert within_noise(variant["plain"], 1000, 0.5)
    # Held out: no message. Treated: one SMS in its variant's words, at its arm's time.
    assert len(rig.sms.sent) == 1000 - len(held)
    treated_fast = sum(1 for r in runs if not r.held_out and dict(r.arms)["delay"] == "fast")
    assert fast_sent == treated_fast
    for n, run in enumerate(runs[:200]):
        messages = rig.messages("north", f"c{n}")
        if run.held_out:
            assert messages == []
            continue
        [sms] = messages
        arm = dict(run.arms)[VARIANT]
        assert (sms.experiment_id, sms.arm) == (VARIANT, arm)
        assert sms.body.startswith(arm.capitalize())


def test_a_held_out_cart_goes_through_the_flow_with_holdout_decisions_and_no_message() -> None:
    rig = make_rig(measured_config(holdout="50%"))
    carts(rig, 40)
    rig.clock.advance(timedelta(hours=1))
    drain(rig)
    rig.clock.advance(timedelta(days=1))
    drain(rig)
    held = next(n for n in range(40) if rig.run("north", f"c{n}").held_out)
    key = f"c{held}"
    assert rig.messages("north", key) == []
    assert rig.run("north", key).status == RunStatus.DONE
    actions = [d.action for d in rig.decisions("north", key)]
    assert actions == ["abandon", "holdout", "holdout", "holdout"]  # then the SMS, the email
    [abandon, held, sms, _email] = rig.decisions("north", key)
    assert "is in the flow's 50% holdout" in abandon.detail
    assert held.reason == "holdout" and "north-test's 50% holdout" in held.detail
    assert sms.reason == "holdout" and "policy allowed this message" in sms.detail
    assert rig.found("north", key).status == "abandoned"


def test_the_policy_still_decides_for_a_held_out_cart() -> None:
    rig = make_rig(measured_config(holdout="50%"))
    for n in range(40):
        rig.cart("north", f"c{n}", phone=phone(n), email=None, consent=Consent(sms=False))
    rig.clock.advance(timedelta(hours=1))
    drain(rig)
    held = next(n for n in range(40) if rig.run("north", f"c{n}").held_out)
    reasons = [d.reason for d in rig.decisions("north", f"c{held}")]
    assert reasons[:3] == ["abandoned", "holdout", "no_consent"]


def test_an_update_after_assignment_keeps_the_arm_and_new_weights_move_only_new_carts() -> None:
    rig = make_rig(measured_config(holdout="0%"))
    carts(rig, 30)
    rig.clock.advance(timedelta(minutes=20))
    drain(rig)  # every cart is assigned; the slow ones went back to sleep until their hour
    before = {n: dict(rig.run("north", f"c{n}").arms) for n in range(30)}
    slow = next(n for n, arms in before.items() if arms["delay"] == "slow")
    rig.cart("north", f"c{slow}", phone=phone(slow), email=f"c{slow}@example.com", total="250")
    # The config changes: every new cart goes to `fast` now.
    heavy = "{id: delay, arms: [{name: fast, weight: 1, abandon_after: 20m}, " + (
        "{name: slow, weight: 0, abandon_after: 1h}]}"
    )
    settings = settings_from(measured_config(timing=heavy, holdout="0%"))
    restarted = build(
        settings, clock=rig.clock, gateways=rig.runtime.gateways.by_channel, store=rig.store
    )
    rig.runtime = restarted
    carts(rig, 20, first=30)
    rig.clock.advance(timedelta(hours=1))
    drain(rig)
    after = {n: dict(rig.run("north", f"c{n}").arms) for n in range(30)}
    assert after == before
    assert all(dict(rig.run("north", f"c{n}").arms)["delay"] == "fast" for n in range(30, 50))
    [sms] = rig.messages("north", f"c{slow}")
    assert sms.arm == before[slow][VARIANT]


def test_a_flow_without_experiments_still_records_that_its_carts_are_treated() -> None:
    rig = make_rig(config_yaml(flow_yaml("plain", "north", "- send: sms")))
    carts(rig, 1)
    rig.advance(timedelta(minutes=30))
    run = rig.run("north", "c0")
    assert run.held_out is False and run.arms == ()
    [decision] = [d for d in rig.decisions("north", "c0") if d.action == DecisionAction.ABANDON]
    assert "holdout" not in decision.detail
