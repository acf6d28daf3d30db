"""A message the gateway asked to retry goes out later than it was decided: the night since
defers it, a STOP since holds it back for good. (Found by `cartback simulate`: a retry after
20:59 local went out at 21:00.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cartback.channels.base import InboundMessage, SendResult, SendStatus
from cartback.domain.records import MessageStatus
from tests.unit.engine.rig import ALICE_PHONE, make_rig
from tests.unit.engine.test_sender import CONFIG as SENDER_CONFIG
from tests.unit.engine.test_sender import answers, retry

# The sender tests' shop, with quiet hours
CONFIG = SENDER_CONFIG.replace(
    "policy: {quiet_hours: null,", 'policy: {quiet_hours: {start: "21:00", end: "09:00"},'
)
EVENING = datetime(2026, 11, 30, 19, 29, 30, tzinfo=UTC)  # 20:29:30 in Copenhagen


def _accepted() -> SendResult:
    return SendResult(SendStatus.SENT, provider_message_id="pm-1")


def test_a_retry_that_falls_in_the_night_waits_for_the_morning() -> None:
    rig = make_rig(CONFIG, start=EVENING)
    rig.sms.respond = answers(retry("timed out"), _accepted())
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))  # 20:59:30 local: allowed, but the gateway times out
    rig.advance(timedelta(minutes=5))  # the retry is due at 21:00 and later: quiet hours
    assert len(rig.sms.sent) == 1
    defer = rig.decision("acme", "c1", "quiet_hours")
    assert defer.action == "defer" and defer.until == datetime(2026, 12, 1, 8, tzinfo=UTC)

    rig.clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    rig.tick()
    [message] = rig.messages("acme", "c1")
    assert len(rig.sms.sent) == 2 and {m.id for m in rig.sms.sent} == {message.id}
    assert message.status == MessageStatus.SENT


def test_a_stop_before_the_retry_holds_the_message_back() -> None:
    rig = make_rig(CONFIG, start=EVENING - timedelta(hours=6))
    rig.sms.respond = answers(retry("timed out"), _accepted())
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    reply = InboundMessage("fake-sms", "in-1", ALICE_PHONE, None, "STOP", rig.clock.now())
    rig.runtime.feedback.apply_inbound(reply)
    rig.advance(timedelta(minutes=5))

    assert len(rig.sms.sent) == 1
    [message] = rig.messages("acme", "c1")
    assert message.status == MessageStatus.SKIPPED
    assert rig.decision("acme", "c1", "suppressed").action == "skip"
