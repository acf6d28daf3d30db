"""The policy as a shopper notices it, decided by the sender on the in-memory store.

The same behaviours as tests/integration/test_policy_rules.py: cooldowns across flows, stores
and other systems' sends; one reminder per person; no SMS after a purchase, after the deadline
or twice per abandonment; consent modes; US sending windows; two workers racing.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from cartback.domain.events import Channel, Consent
from cartback.domain.records import RunStatus, Touch
from cartback.engine.scheduler import SchedulerSettings
from cartback.runtime import build
from cartback.testing import FakeClock, FakeGateway
from tests.integration.conftest import START
from tests.integration.test_policy_rules import (
    MIAMI,
    MIAMI_2,
    NO_QUIET_HOURS,
    RACE_STORES,
    SMS_ONLY,
    TWO_STORES_SMS,
    config_yaml,
    flow_yaml,
    store_yaml,
)
from tests.unit.engine.rig import (
    ALICE_EMAIL,
    ALICE_PHONE,
    BOB_EMAIL,
    BOB_PHONE,
    make_rig,
    settings_from,
)

# --- cooldown ---------------------------------------------------------------------------------


def test_a_message_from_one_store_blocks_another_stores_within_the_cooldown() -> None:
    rig = make_rig(config_yaml(TWO_STORES_SMS))
    rig.cart("north", "n1")
    assert rig.advance(timedelta(minutes=30)) == 1

    rig.clock.advance(timedelta(minutes=30))
    rig.cart("south", "s1")
    rig.advance(timedelta(minutes=30))
    assert len(rig.sms.sent) == 1
    blocked = rig.decision("south", "s1", "cooldown")
    assert blocked.action == "skip" and blocked.flow_id == "south-sms"
    assert "inside the 3d cooldown" in blocked.detail

    rig.clock.set(START + timedelta(hours=72))  # 72h after north's message
    rig.cart("south", "s2")
    rig.advance(timedelta(minutes=30))
    assert [m.to for m in rig.sms.sent] == [ALICE_PHONE, ALICE_PHONE]
    assert "cooldown" not in rig.reasons("south", "s2")


def test_the_steps_of_one_recovery_do_not_block_each_other() -> None:
    steps = SMS_ONLY + "- wait: 24h\n- send: email\n"
    rig = make_rig(config_yaml(flow_yaml("sms-then-mail", "north", steps)))
    rig.cart("north", "n1")
    rig.advance(timedelta(minutes=30))
    rig.advance(timedelta(hours=24))
    assert [m.to for m in rig.sms.sent] == [ALICE_PHONE]
    assert [m.to for m in rig.email.sent] == [ALICE_EMAIL]
    assert "cooldown" not in rig.reasons("north", "n1")
    assert rig.run("north", "n1").status == RunStatus.DONE


def test_each_channel_keeps_its_own_cooldown_and_counts_other_systems_sends() -> None:
    policy = "quiet_hours: null\ncooldown: 72h\ncooldowns: {sms: 24h, email: 7d}\n"
    rig = make_rig(
        config_yaml(flow_yaml("both", "north", SMS_ONLY + "- send: email\n"), policy=policy)
    )
    now = rig.clock.now()
    touches = [
        Touch(ALICE_PHONE, "sms", now - timedelta(hours=30), "klaviyo"),
        Touch(ALICE_EMAIL, "email", now - timedelta(days=5), "klaviyo"),
    ]
    with rig.store.transaction() as tx:
        assert tx.touches.add_many(touches, now) == 2
    rig.cart("north", "n1")
    rig.advance(timedelta(minutes=30))
    assert [m.to for m in rig.sms.sent] == [ALICE_PHONE]  # 30h > the 24h SMS cooldown
    assert rig.email.sent == []  # 5 days < the 7 day email cooldown
    blocked = rig.decision("north", "n1", "cooldown")
    assert blocked.step_index == 1 and "inside the 7d cooldown" in blocked.detail


def test_a_registered_touch_blocks_within_the_cooldown() -> None:
    rig = make_rig(config_yaml(TWO_STORES_SMS))
    now = rig.clock.now()
    touches = [
        Touch(ALICE_PHONE, "sms", now - timedelta(days=1), "klaviyo"),
        Touch(BOB_PHONE, "sms", now - timedelta(days=4), "klaviyo"),
    ]
    with rig.store.transaction() as tx:
        tx.touches.add_many(touches, now)
    rig.cart("north", "alice")
    rig.cart("north", "bob", phone=BOB_PHONE, email=BOB_EMAIL, first_name="Bob")
    rig.advance(timedelta(minutes=30))
    assert [m.to for m in rig.sms.sent] == [BOB_PHONE]
    assert "cooldown" in rig.reasons("north", "alice")


# --- purchases, frequency, deadline, newest cart ----------------------------------------------


def test_an_order_by_the_same_email_in_another_store_yesterday_stops_the_reminder() -> None:
    rig = make_rig(config_yaml(TWO_STORES_SMS))
    now = rig.clock.now()
    rig.order("south", "o-alice", email="Alice@Example.com", at=now - timedelta(hours=20))
    rig.order("south", "o-bob", email=BOB_EMAIL, at=now - timedelta(hours=25))
    rig.cart("north", "alice")
    rig.cart("north", "bob", phone=BOB_PHONE, email=BOB_EMAIL, first_name="Bob")
    rig.advance(timedelta(minutes=30))
    assert [m.to for m in rig.sms.sent] == [BOB_PHONE]  # Bob's order is older than 24h
    skipped = rig.decision("north", "alice", "recent_purchase")
    assert skipped.action == "skip" and "within 24h" in skipped.detail


def test_at_most_one_sms_per_abandonment() -> None:
    steps = SMS_ONLY + "- wait: 1h\n" + SMS_ONLY
    rig = make_rig(config_yaml(flow_yaml("twice", "north", steps)))
    rig.cart("north", "n1")
    rig.advance(timedelta(minutes=30))
    rig.advance(timedelta(hours=1))
    assert len(rig.sms.sent) == 1
    second = rig.decision("north", "n1", "frequency")
    assert second.step_index == 2
    assert "1 SMS already went out for this abandonment (at most 1)" in second.detail


def test_no_sms_later_than_the_deadline_after_abandonment() -> None:
    rig = make_rig(config_yaml(flow_yaml("late", "north", "- wait: 49h\n" + SMS_ONLY)))
    rig.cart("north", "n1")
    rig.advance(timedelta(minutes=30))
    rig.advance(timedelta(hours=49))
    assert rig.sms.sent == []
    late = rig.decision("north", "n1", "sms_deadline")
    assert "More than 2d have passed since the cart was abandoned" in late.detail


def test_a_person_with_two_open_carts_gets_one_reminder_for_the_newest() -> None:
    rig = make_rig(config_yaml(TWO_STORES_SMS))
    rig.cart("north", "older", total="120.00")
    rig.clock.advance(timedelta(minutes=10))
    rig.cart("north", "newer", total="340.00")
    rig.advance(timedelta(minutes=20))
    rig.advance(timedelta(minutes=10))
    rig.advance(timedelta(hours=1))
    [sms] = rig.sms.sent
    assert rig.messages("north", "older") == []
    assert rig.run("north", "older").status == RunStatus.CANCELLED
    assert rig.decision("north", "older", "newer_cart").action == "cancel"
    [message] = rig.messages("north", "newer")
    assert message.id == sms.id


# --- consent modes ----------------------------------------------------------------------------


def test_soft_opt_in_emails_past_buyers_without_consent_but_strict_does_not() -> None:
    stores = store_yaml("soft", consent_mode="soft_opt_in") + store_yaml("strict")
    mail = "- send: email\n"
    flows = flow_yaml("soft-mail", "soft", mail) + flow_yaml("strict-mail", "strict", mail)
    rig = make_rig(config_yaml(flows, stores=stores))
    rig.order("soft", "earlier", email="dora@example.com", at=START - timedelta(days=30))
    people = {
        "buyer": ("soft", "buyer@example.com", 3),
        "newcomer": ("soft", "new@example.com", 0),
        "dora": ("soft", "dora@example.com", None),  # bought here before, per our orders
        "strict-buyer": ("strict", "strict@example.com", 3),
    }
    for key, (store, email, orders) in people.items():
        rig.cart(store, key, phone=None, email=email, consent=Consent(), orders_count=orders)
    rig.advance(timedelta(minutes=30))
    assert sorted(m.to for m in rig.email.sent) == ["buyer@example.com", "dora@example.com"]
    assert "no_consent" in rig.reasons("soft", "newcomer")
    assert "no_consent" in rig.reasons("strict", "strict-buyer")


# --- sending windows --------------------------------------------------------------------------


def test_us_numbers_wait_for_the_states_sending_window_or_the_stores_own() -> None:
    weekdays = "{start: '10:00', end: '18:00', days: [mon, tue, wed, thu, fri]}"
    us = {"timezone": "America/New_York", "default_country": "US", "currency": "USD"}
    stores = store_yaml("us", **us) + store_yaml(
        "custom", **us, sending_windows="{US: " + weekdays + "}"
    )
    flows = flow_yaml("us-sms", "us", SMS_ONLY) + flow_yaml("custom-sms", "custom", SMS_ONLY)
    friday_8pm_miami = datetime.fromisoformat("2026-12-05T01:00:00+00:00")  # Fri 20:00 EST
    policy = NO_QUIET_HOURS + "sms_deadline: 4d\n"
    rig = make_rig(config_yaml(flows, stores=stores, policy=policy), friday_8pm_miami)
    rig.cart("us", "fl", phone=MIAMI, email=None)
    rig.cart("custom", "fl", phone=MIAMI_2, email=None)
    rig.advance(timedelta(minutes=30))  # 20:30 in Miami: after Florida's 8 p.m.
    assert rig.sms.sent == []

    legal = rig.decision("us", "fl", "quiet_hours")
    assert legal.action == "defer"
    assert legal.until == datetime.fromisoformat("2026-12-05T13:00:00+00:00")
    assert "America/New_York" in legal.detail and "08:00-20:00" in legal.detail
    own = rig.decision("custom", "fl", "quiet_hours")
    assert own.until == datetime.fromisoformat("2026-12-07T15:00:00+00:00")  # Monday 10:00

    rig.clock.set(datetime.fromisoformat("2026-12-05T12:59:00+00:00"))
    assert rig.tick() == 0
    assert rig.advance(timedelta(minutes=1)) == 1
    assert [m.to for m in rig.sms.sent] == [MIAMI]
    rig.clock.set(datetime.fromisoformat("2026-12-07T15:00:00+00:00"))
    assert rig.tick() == 1
    assert [m.to for m in rig.sms.sent] == [MIAMI, MIAMI_2]


# --- the report -------------------------------------------------------------------------------


def test_the_report_counts_skipped_steps_by_reason() -> None:
    rig = make_rig(config_yaml(TWO_STORES_SMS))
    rig.cart("north", "alice-1")
    rig.cart("north", "bob", phone=BOB_PHONE, email=BOB_EMAIL, consent=Consent(sms=False))
    rig.clock.advance(timedelta(minutes=5))
    rig.cart("north", "alice-2")
    rig.advance(timedelta(minutes=40))  # alice-1: newer_cart, bob: no_consent, alice-2 sent
    rig.cart("south", "alice-3")
    rig.advance(timedelta(minutes=30))  # cooldown
    assert len(rig.sms.sent) == 1
    assert rig.report("north").skipped == {"newer_cart": 1, "no_consent": 1}
    assert rig.report("south").skipped == {"cooldown": 1}
    overall = rig.report()
    assert overall.skipped == {"newer_cart": 1, "no_consent": 1, "cooldown": 1}
    assert overall.messages_sent == 1


# --- two workers ------------------------------------------------------------------------------


def test_two_workers_racing_to_message_the_same_person_send_once() -> None:
    stores = "".join(store_yaml(s) for s in RACE_STORES)
    flows = "".join(flow_yaml(f"{s}-sms", s, SMS_ONLY) for s in RACE_STORES)
    config = config_yaml(flows, stores=stores)
    rig = make_rig(config)
    for store in RACE_STORES:
        rig.cart(store, f"{store}-1")
        rig.cart(store, f"{store}-2", phone=BOB_PHONE, email=BOB_EMAIL, first_name="Bob")
    clock = FakeClock(START + timedelta(minutes=31))
    workers = []
    for name in ("a", "b"):
        sms = FakeGateway(clock, name=f"sms-{name}")
        gateways = {Channel.SMS: sms}
        runtime = build(settings_from(config), clock=clock, gateways=gateways, store=rig.store)
        runtime.scheduler.settings = SchedulerSettings(1, timedelta(minutes=5))
        workers.append((runtime, sms))
    barrier = threading.Barrier(len(workers))

    def work(index: int) -> None:
        barrier.wait()
        while workers[index][0].scheduler.tick():
            pass

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    recipients = sorted(m.to for _, sms in workers for m in sms.sent)
    assert recipients == sorted([ALICE_PHONE, BOB_PHONE])
    report = rig.report()
    assert report.messages_sent == 2
    assert report.skipped == {"cooldown": 2 * (len(RACE_STORES) - 1)}
