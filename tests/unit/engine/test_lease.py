"""A batch never outlasts its lease (issue 14.5): a run is started only while a send can still
end before the lease does, so no other worker can claim a run that is still being sent."""

from __future__ import annotations

import threading
from datetime import timedelta

from cartback.channels.base import OutgoingMessage, SendResult, SendStatus
from cartback.engine.scheduler import SchedulerSettings
from tests.unit.engine.rig import make_rig
from tests.unit.engine.test_sender import CONFIG

LEASE = timedelta(minutes=5)
SEND = timedelta(seconds=20)  # the gateway's timeout


def test_runs_left_when_the_lease_is_nearly_over_wait_for_it() -> None:
    rig = make_rig(CONFIG)
    for n in range(12):
        rig.cart("acme", f"c{n}", phone=f"+45201{n:05d}", email=None)
    rig.clock.advance(timedelta(minutes=31))
    rig.runtime.scheduler.settings = SchedulerSettings(100, LEASE, longest_send=SEND)

    def slow(message: OutgoingMessage) -> SendResult:
        rig.clock.advance(timedelta(minutes=1))  # each call takes a minute
        return SendResult(SendStatus.SENT, sent_at=rig.clock.now(), provider_message_id="p")

    rig.sms.respond = slow
    assert rig.runtime.scheduler.tick() == 12
    started = len(rig.sms.sent)
    assert started == 5  # at 0, 1, 2, 3, 4 minutes: the next would start past 5m - 20s

    # The clock is at the lease's end: the seven left are claimed again, and sent once each.
    assert rig.runtime.scheduler.tick() == 7
    while rig.runtime.scheduler.tick():
        pass
    assert len(rig.sms.sent) == 12 and len({m.to for m in rig.sms.sent}) == 12


def test_a_worker_loop_claims_again_while_its_sends_are_in_flight() -> None:
    """`tick(drain=False)` (the worker's loop) leaves the claimed runs sending and returns; the
    next tick waits for room in the window, claims none of them again, and `drain` waits."""
    rig = make_rig(CONFIG)
    for n in range(6):
        rig.cart("acme", f"c{n}", phone=f"+45201{n:05d}", email=None)
    rig.clock.advance(timedelta(minutes=31))
    rig.runtime.scheduler.settings = SchedulerSettings(6, LEASE, concurrency=3)  # a batch: 6
    release = threading.Event()

    def held(message: OutgoingMessage) -> SendResult:
        assert release.wait(10)
        return SendResult(SendStatus.SENT, sent_at=rig.clock.now(), provider_message_id="p")

    rig.sms.respond = held
    assert rig.runtime.scheduler.tick(drain=False) == 6  # back while all six are held
    assert len(rig.sms.sent) <= 3  # three threads: the others wait for one
    release.set()
    assert rig.runtime.scheduler.tick(drain=False) == 0  # claimed already: not claimed twice
    rig.runtime.scheduler.drain()
    assert len(rig.sms.sent) == 6 and len({m.to for m in rig.sms.sent}) == 6
    assert rig.runtime.scheduler.tick() == 0
