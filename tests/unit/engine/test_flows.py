"""The scheduler's choices: which flow takes a cart, when, and how its steps run.

The same behaviours as tests/integration/test_segments_flows.py, on the in-memory store, and the
run states no webhook can reach (a flow removed from the config while a cart runs in it).
"""

from __future__ import annotations

from datetime import timedelta

from cartback.domain.records import CartStatus, RunStatus
from tests.integration.test_policy_rules import config_yaml, flow_yaml
from tests.integration.test_segments_flows import ENDING, GUARDED, PRIORITY_FLOWS, SEGMENTS, WORDED
from tests.unit.engine.rig import ALICE_EMAIL, ALICE_PHONE, BOB_EMAIL, BOB_PHONE, Rig, make_rig


def segment_rig(flows: str = PRIORITY_FLOWS) -> Rig:
    return make_rig(config_yaml(flows, segments=SEGMENTS))


def abandon_detail(rig: Rig, store: str, key: str) -> str:
    [entry] = [d for d in rig.decisions(store, key) if d.action == "abandon"]
    return entry.detail


def test_the_highest_priority_matching_flow_takes_the_cart_and_only_it() -> None:
    rig = segment_rig()
    rig.cart("north", "vip-big", total="1500.00", tags=["vip", "newsletter"])
    rig.advance(timedelta(minutes=30))
    rig.advance(timedelta(hours=2))
    [sms] = rig.sms.sent
    assert sms.text.startswith("Dear VIP: https://cb.example/r/")
    run = rig.run("north", "vip-big")
    assert run.flow_id == "vip" and run.status == RunStatus.DONE
    assert {m.flow_id for m in rig.messages("north", "vip-big")} == {"vip"}
    detail = abandon_detail(rig, "north", "vip-big")
    assert "Chosen flow vip: segment vip holds: customer tags include vip" in detail


def test_a_flow_that_waits_longer_takes_its_own_time() -> None:
    rig = segment_rig()
    rig.cart("north", "big", total="1500.00")
    rig.advance(timedelta(minutes=30))
    assert rig.run("north", "big").flow_id == "big-basket"  # back to sleep until its own time
    rig.advance(timedelta(minutes=89))
    assert rig.sms.sent == []
    assert rig.found("north", "big").status == CartStatus.OPEN
    rig.advance(timedelta(minutes=1))
    [sms] = rig.sms.sent
    assert sms.text.startswith("Big basket:")
    detail = abandon_detail(rig, "north", "big")
    assert detail.startswith("No update or order for 2h: the cart is abandoned.")
    assert "passed over: flow vip: segment vip does not hold" in detail


def test_a_second_abandonment_within_30_days_is_a_repeat() -> None:
    rig = segment_rig()
    rig.cart("north", "first")
    rig.advance(timedelta(minutes=30))
    rig.clock.advance(timedelta(days=4))  # past the 72h cooldown
    rig.cart("north", "second")
    rig.advance(timedelta(minutes=30))
    assert rig.run("north", "first").flow_id == "everyone"
    assert "abandoned 2 carts in the last 30d" in abandon_detail(rig, "north", "second")
    assert rig.run("north", "second").flow_id == "repeat"
    assert [m.text.split(" https")[0] for m in rig.sms.sent] == [
        "Your basket is saved:",
        "Back again?",
    ]


def test_a_cart_no_flow_takes_is_abandoned_all_the_same_with_why() -> None:
    rig = segment_rig()
    rig.cart("south", "plain", total="300.00")
    rig.advance(timedelta(minutes=30))
    assert rig.sms.sent == []
    [decision] = rig.decisions("south", "plain")
    assert (decision.reason, decision.action) == ("no_matching_flow", "skip")
    assert decision.detail == (
        "No flow takes this cart: flow south-vip: segment vip does not hold: "
        "customer tags include none of vip."
    )
    assert rig.run("south", "plain").status == RunStatus.DONE
    assert rig.found("south", "plain").status == CartStatus.ABANDONED
    assert rig.report("south").skipped == {"no_matching_flow": 1}


def test_a_step_whose_condition_fails_is_passed_over_with_the_explanation() -> None:
    rig = segment_rig(GUARDED)
    rig.cart("north", "small", total="200.00")
    rig.cart("north", "big", phone=BOB_PHONE, email=BOB_EMAIL, total="1500.00")
    rig.advance(timedelta(minutes=30))
    rig.advance(timedelta(hours=1))
    assert [m.to for m in rig.sms.sent] == [BOB_PHONE]
    assert [m.to for m in rig.email.sent] == [ALICE_EMAIL]
    small = rig.decision("north", "small", "condition")
    assert small.action == "skip" and small.step_index == 0
    assert small.detail == (
        "Step 1 passed over: segment big_basket does not hold: basket 200.00 DKK, not ≥ 1,000."
    )
    assert rig.decision("north", "big", "condition").step_index == 2


def test_an_end_step_under_a_condition_ends_the_flow() -> None:
    rig = segment_rig(ENDING)
    rig.cart("north", "returning", orders_count=4)
    rig.cart("north", "new", phone=BOB_PHONE, email=BOB_EMAIL, orders_count=0)
    rig.advance(timedelta(minutes=30))
    rig.advance(timedelta(hours=24))
    rig.advance(timedelta(hours=24))
    assert sorted(m.to for m in rig.sms.sent) == [ALICE_PHONE, BOB_PHONE]
    assert [m.to for m in rig.email.sent] == [BOB_EMAIL]
    ended = rig.decision("north", "returning", "flow_ended")
    assert ended.action == "end" and ended.step_index == 2
    assert ended.detail == "The flow ends here: returning customers get one reminder"
    assert rig.run("north", "returning").status == RunStatus.DONE


def test_a_segment_gets_its_own_wording_and_the_branch_is_recorded() -> None:
    rig = segment_rig(WORDED)
    rig.cart("north", "vip", tags=["VIP"])
    rig.cart("north", "other", phone=BOB_PHONE, email=BOB_EMAIL, first_name="Bob")
    rig.advance(timedelta(minutes=30))
    texts = {m.to: m.text for m in rig.sms.sent}
    assert texts[ALICE_PHONE].startswith("Dear Alice, we kept your favourites aside: https://")
    assert texts[BOB_PHONE].startswith("Hi Bob, your basket is saved: https://")
    [branch] = [d for d in rig.decisions("north", "vip") if d.action == "branch"]
    assert branch.detail == "Wording for segment vip holds: customer tags include vip."
    assert all(d.action != "branch" for d in rig.decisions("north", "other"))


def test_a_run_whose_flow_left_the_config_is_cancelled() -> None:
    steps = "- send: sms\n  template: 'Saved: {{ link }}'\n- wait: 1h\n- send: email\n"
    rig = make_rig(config_yaml(flow_yaml("gone-soon", "north", steps)))
    rig.cart("north", "n1")
    rig.advance(timedelta(minutes=30))
    rig.runtime.scheduler.flows = lambda _flow_id: None  # the config was reloaded without it
    rig.advance(timedelta(hours=1))
    run = rig.run("north", "n1")
    assert run.status == RunStatus.CANCELLED and run.ended_reason == "flow_removed"
    assert rig.email.sent == [] and len(rig.sms.sent) == 1


def test_a_cart_bought_while_its_run_waited_ends_the_run_at_its_next_turn() -> None:
    rig = make_rig(config_yaml(flow_yaml("f", "north", "- send: sms\n")))
    rig.cart("north", "n1")
    rig.clock.advance(timedelta(minutes=31))
    with rig.store.transaction() as tx:  # bought where no order reached us: the cart says so
        tx.carts.change(rig.found("north", "n1").id, status=CartStatus.PURCHASED)
    assert rig.tick() == 1
    run = rig.run("north", "n1")
    assert run.status == RunStatus.CANCELLED and run.ended_reason == "purchased"
    assert rig.sms.sent == []
