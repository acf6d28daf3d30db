"""The pre-send policy, one rule at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from cartback.domain.events import Channel
from cartback.domain.policy import Action, Reason, SendFacts, decide
from cartback.domain.quiet_hours import QuietHours

NOON_CPH = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # 12:00 in Copenhagen
OK = SendFacts(
    channel=Channel.SMS,
    now=NOON_CPH,
    purchased=False,
    deleted=False,
    address="+4520123456",
    phone_raw="+45 20 12 34 56",
    consent=True,
    suppressed=False,
    channel_configured=True,
    has_recovery_url=True,
    last_promotional_at=None,
    cooldown=timedelta(hours=72),
    quiet_hours=QuietHours(time(21), time(9)),
    zones=("Europe/Copenhagen",),
    recent_purchase=timedelta(hours=24),
    max_sms=1,
    sms_deadline=timedelta(hours=48),
    store_zone="Europe/Copenhagen",
)


def test_everything_in_order_sends() -> None:
    assert decide(OK).action == Action.SEND


@pytest.mark.parametrize(
    ("change", "action", "reason"),
    [
        ({"purchased": True}, Action.CANCEL, Reason.PURCHASED),
        ({"deleted": True}, Action.CANCEL, Reason.DELETED),
        ({"channel_configured": False}, Action.SKIP, Reason.CHANNEL_NOT_CONFIGURED),
        ({"address": None, "phone_raw": None}, Action.SKIP, Reason.NO_PHONE),
        ({"address": None, "phone_raw": "+45 2012 345"}, Action.SKIP, Reason.INVALID_PHONE),
        ({"address": None, "phone_raw": "555-555-BILL"}, Action.SKIP, Reason.NO_PHONE),
        ({"address": None, "channel": Channel.EMAIL}, Action.SKIP, Reason.NO_EMAIL),
        ({"consent": False}, Action.SKIP, Reason.NO_CONSENT),
        ({"suppressed": True}, Action.SKIP, Reason.SUPPRESSED),
        ({"has_recovery_url": False}, Action.SKIP, Reason.NO_RECOVERY_URL),
        ({"last_promotional_at": NOON_CPH - timedelta(hours=71)}, Action.SKIP, Reason.COOLDOWN),
    ],
)
def test_each_rule_stops_the_send_with_its_reason(
    change: dict, action: Action, reason: Reason
) -> None:
    decision = decide(replace(OK, **change))
    assert (decision.action, decision.reason) == (action, reason)
    assert decision.detail and "+4520123456" not in decision.detail


def test_purchase_wins_over_every_other_reason() -> None:
    decision = decide(replace(OK, purchased=True, consent=False, address=None))
    assert decision.reason == Reason.PURCHASED


def test_a_message_older_than_the_cooldown_does_not_block() -> None:
    assert (
        decide(replace(OK, last_promotional_at=NOON_CPH - timedelta(hours=72))).action
        == Action.SEND
    )


def test_quiet_hours_defer_to_the_next_allowed_minute_in_the_recipients_zone() -> None:
    late = datetime(2026, 11, 30, 21, 30, tzinfo=UTC)  # 22:30 in Copenhagen
    decision = decide(replace(OK, now=late))
    assert decision.action == Action.DEFER and decision.reason == Reason.QUIET_HOURS
    assert decision.until == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_the_recipients_zone_not_the_stores_decides() -> None:
    # 23:00 UTC: night in Copenhagen, 15:00 in Los Angeles.
    late = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    facts = replace(OK, now=late, address="+12135550123", zones=("America/Los_Angeles",))
    assert decide(facts).action == Action.SEND


def test_no_quiet_hours_configured_sends_at_night() -> None:
    late = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert decide(replace(OK, now=late, quiet_hours=None)).action == Action.SEND


def test_a_deferral_past_the_sms_deadline_is_a_skip_not_a_wait() -> None:
    friday_night = datetime(2026, 11, 27, 21, 30, tzinfo=UTC)  # 22:30 in Copenhagen
    facts = replace(
        OK,
        now=friday_night,
        abandoned_at=friday_night - timedelta(hours=47, minutes=50),
        sms_deadline=timedelta(hours=48),
    )
    decision = decide(facts)
    assert (decision.action, decision.reason) == (Action.SKIP, Reason.SMS_DEADLINE)


def test_the_rules_come_from_the_config_with_its_defaults() -> None:
    from cartback.config.settings import PolicyConfig

    rules = PolicyConfig().rules()
    assert rules.cooldown == timedelta(hours=72)
    assert rules.quiet_hours == QuietHours(time(21), time(9))
    assert (rules.recent_purchase, rules.max_sms) == (timedelta(hours=24), 1)
    assert rules.sms_deadline == timedelta(hours=48)
    shorter = PolicyConfig(cooldowns={Channel.SMS: timedelta(hours=24)}).rules()
    assert shorter.cooldown_for(Channel.RCS) == timedelta(hours=24)  # rcs shares the sms one
    assert shorter.cooldown_for(Channel.EMAIL) == timedelta(hours=72)
