"""The sender and what comes back: gateway answers, retries, the breaker, delivery reports,
replies, a crash between the message row and the gateway call, racing workers.

The engine side of tests/integration/test_channels.py and test_workers.py, on the in-memory
store, with a FakeGateway answering what a vendor's client would return.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from cartback.channels.base import (
    InboundMessage,
    MessageStatus,
    OutgoingMessage,
    SendResult,
    SendStatus,
    StatusReport,
)
from cartback.domain.events import Channel
from cartback.domain.keywords import Intent
from cartback.domain.records import MessageStatus as Kept
from cartback.engine.scheduler import SchedulerSettings
from cartback.runtime import build
from cartback.testing import FakeClock, FakeGateway
from tests.integration.conftest import START
from tests.unit.engine.rig import ALICE_EMAIL, ALICE_PHONE, Rig, make_rig, settings_from

CONFIG = """
database_url: {db_url}
public_url: https://cb.example
api_token: {token}
stores:
  - {id: acme, platform: generic, name: Acme, insecure: true, timezone: Europe/Copenhagen,
     default_country: DK, currency: DKK}
channels:
  sms: {provider: outbox, path: sms.jsonl, sender: Acme, cost_per_segment: 0.30,
        max_attempts: 3, retry_backoff: 1m}
  email: {provider: outbox, path: mail.jsonl, from: "Acme <shop@example.com>"}
policy: {quiet_hours: null, cooldown: 72h}
flows:
  - id: cart-sms
    store: acme
    abandon_after: 30m
    steps:
      - send: rcs
        fallback: sms
        title: Your basket
        template: "Hi {{ first_name }}, your basket is saved: {{ link }}"
      - wait: 24h
      - send: email
"""

Answer = Callable[[OutgoingMessage], SendResult]


@pytest.fixture
def rig() -> Rig:
    return make_rig(CONFIG)


def answers(*results: SendResult) -> Answer:
    """A gateway that answers with these results in turn, then keeps the last."""
    queue: Iterator[SendResult] = iter(results)
    last = results[-1]

    def respond(_message: OutgoingMessage) -> SendResult:
        nonlocal last
        last = next(queue, last)
        return last

    return respond


def retry(error: str, status: int | None = None) -> SendResult:
    return SendResult(SendStatus.RETRY, error=error, http_status=status)


def sent(rig: Rig) -> SendResult:
    return SendResult(SendStatus.SENT, sent_at=rig.clock.now(), provider_message_id="pm-1")


def test_an_rcs_step_without_rcs_goes_out_as_its_sms_fallback(rig: Rig) -> None:
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    [sms] = rig.sms.sent
    assert sms.channel == Channel.SMS and sms.to == ALICE_PHONE
    [message] = rig.messages("acme", "c1")
    assert (message.channel, message.status, message.provider) == ("sms", Kept.SENT, "fake-sms")
    assert message.cost == Decimal("0.30") and message.segments == 1
    assert rig.decision("acme", "c1", "rcs_fallback").action == "fallback"


def test_a_gateway_that_does_not_answer_is_tried_again_under_the_same_id(rig: Rig) -> None:
    rig.sms.respond = answers(retry("500 from gateway", 500), retry("timed out"), sent(rig))
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    [message] = rig.messages("acme", "c1")
    assert message.status == Kept.QUEUED
    assert rig.advance(timedelta(seconds=10)) == 0  # backing off
    rig.advance(timedelta(minutes=3))  # the second try: a timeout
    rig.advance(timedelta(minutes=5))  # the third: accepted
    assert len({m.id for m in rig.sms.sent}) == 1 and len(rig.sms.sent) == 3
    with rig.store.reading() as tx:
        attempts = tx.messages.attempts(message.id)
        kept = tx.messages.get(message.id)
    assert [(a.number, a.outcome, a.http_status) for a in attempts] == [
        (1, "retry", 500),
        (2, "retry", None),
        (3, "sent", None),
    ]
    assert kept is not None and kept.status == Kept.SENT and kept.attempts == 3
    assert rig.reasons("acme", "c1").count("gateway_retry") == 2


def test_the_run_moves_on_in_the_transaction_that_records_the_message_sent(rig: Rig) -> None:
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    [message] = rig.messages("acme", "c1")
    run = rig.run("acme", "c1")
    assert message.status == Kept.SENT and message.sent_at is not None
    assert run.step_index == 2 and run.next_run_at == message.sent_at + timedelta(hours=24)


@pytest.mark.parametrize("counted", [False, True], ids=["plain answer", "segments counted"])
def test_an_attempt_is_kept_when_recording_its_outcome_fails(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, counted: bool
) -> None:
    """Both ways an answer is written: a plain one as one write (`Store.record_sent`), one
    that needs reading (the gateway counted the segments) in a transaction (`_settle`)."""

    def broken(*_args: object) -> None:
        raise RuntimeError("the database went away while the outcome was written")

    dispatcher = rig.runtime.scheduler.sender.dispatcher
    if counted:
        answer = SendResult(SendStatus.SENT, provider_message_id="p1", provider_segments=1)
        monkeypatch.setattr(rig.sms, "respond", lambda _message: answer)
        monkeypatch.setattr(dispatcher, "_settle", broken)
    else:
        monkeypatch.setattr(dispatcher.store, "record_sent", broken)
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    [message] = rig.messages("acme", "c1")
    with rig.store.reading() as tx:
        attempts = tx.messages.attempts(message.id)
    assert message.status == Kept.QUEUED and [a.outcome for a in attempts] == ["sent"]

    monkeypatch.undo()  # the lease ends: sent again under the same id, which the gateway knows
    rig.advance(timedelta(minutes=5))
    assert [m.id for m in rig.sms.sent] == [message.id, message.id]
    assert rig.messages("acme", "c1")[0].status == Kept.SENT


def test_a_gateway_that_keeps_failing_is_given_up_after_the_last_attempt(rig: Rig) -> None:
    rig.sms.respond = answers(retry("503"))
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    for _ in range(3):
        rig.advance(timedelta(minutes=10))
    assert len(rig.sms.sent) == 3
    [message] = rig.messages("acme", "c1")
    assert message.status == Kept.FAILED and message.error == "gave up after 3 attempts: 503"
    assert "gateway_failed" in rig.reasons("acme", "c1")


def test_a_refusal_fails_with_the_gateways_reason_and_is_not_retried(rig: Rig) -> None:
    refused = SendResult(SendStatus.FAILED, error="Invalid sender", error_code="400")
    rig.sms.respond = answers(refused)
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    rig.advance(timedelta(hours=1))
    [message] = rig.messages("acme", "c1")
    assert message.status == Kept.FAILED and message.error == "Invalid sender"
    assert len(rig.sms.sent) == 1
    failed = rig.decision("acme", "c1", "gateway_failed")
    assert failed.detail == "fake-sms did not send it: Invalid sender."


def test_an_opted_out_answer_fails_and_suppresses_the_number(rig: Rig) -> None:
    opted_out = SendResult(SendStatus.FAILED, error="opted out", error_code="21610", suppress=True)
    rig.sms.respond = answers(opted_out)
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    with rig.store.reading() as tx:
        [suppressed] = tx.consent.suppressions(ALICE_PHONE)
    assert (suppressed.channel, suppressed.reason) == ("sms", "gateway:21610")
    assert rig.messages("acme", "c1")[0].status == Kept.FAILED


def test_a_gateway_that_stays_down_rests_and_costs_no_time(rig: Rig) -> None:
    rig.sms.respond = answers(retry("503"))
    for n in range(6):
        rig.cart("acme", f"c{n}", phone=f"+452012345{n}", email=f"p{n}@example.com")
    rig.advance(timedelta(minutes=30))
    assert len(rig.sms.sent) == 3  # three failures open the breaker; the rest wait, uncalled
    for n in range(6):
        assert [m.status for m in rig.messages("acme", f"c{n}")] == [Kept.QUEUED]


def test_delivery_reports_move_a_message_on_and_bill_the_gateways_segments(rig: Rig) -> None:
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    [message] = rig.messages("acme", "c1")
    feedback = rig.runtime.feedback
    delivered = StatusReport("fake-sms", MessageStatus.DELIVERED, rig.clock.now(), message.id)
    assert feedback.apply_report(replace(delivered, provider_segments=2))
    late = StatusReport("fake-sms", MessageStatus.SENT, rig.clock.now(), provider_message_id="x")
    assert not feedback.apply_report(late)  # no message of ours has that id
    assert rig.messages("acme", "c1")[0].status == Kept.DELIVERED
    report = rig.report()
    assert report.messages_delivered == 1 and report.sms_segments == 2
    assert report.spend == Decimal("0.60")


def test_a_blacklisted_report_suppresses_and_a_gateway_cooldown_is_a_skip(rig: Rig) -> None:
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    [message] = rig.messages("acme", "c1")
    feedback, now = rig.runtime.feedback, rig.clock.now()
    feedback.apply_report(
        StatusReport("fake-sms", MessageStatus.UNDELIVERED, now, message.id, suppress=True)
    )
    with rig.store.reading() as tx:
        assert tx.consent.is_suppressed("sms", ALICE_PHONE)
    feedback.apply_report(
        StatusReport("fake-sms", MessageStatus.SKIPPED, now, message.id, error="cooldown")
    )
    assert "gateway_cooldown" in rig.reasons("acme", "c1")
    assert rig.messages("acme", "c1")[0].status == Kept.UNDELIVERED  # never moves back


def test_a_stop_reply_suppresses_everywhere_and_start_lifts_it(rig: Rig) -> None:
    rig.cart("acme", "c1")
    feedback = rig.runtime.feedback
    stop = InboundMessage("fake-sms", "in-1", ALICE_PHONE, "Acme", " Stop! ", rig.clock.now())
    assert feedback.apply_inbound(stop) == Intent.STOP
    assert feedback.apply_inbound(stop) == Intent.NONE  # the same reply again: applied once
    rig.advance(timedelta(minutes=30))
    assert rig.sms.sent == [] and "suppressed" in rig.reasons("acme", "c1")
    start = InboundMessage("fake-sms", "in-2", ALICE_PHONE, "Acme", "START", rig.clock.now())
    assert feedback.apply_inbound(start) == Intent.START
    with rig.store.reading() as tx:
        assert not tx.consent.is_suppressed("sms", ALICE_PHONE)
        ledger = [(e.store_id, e.granted) for e in tx.consent.history(ALICE_PHONE)]
    assert ledger == [("acme", True), ("acme", False), ("acme", True)]


def test_an_email_unsubscribe_ends_email_for_that_address(rig: Rig) -> None:
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    rig.runtime.feedback.unsubscribe_email("acme", "Alice@Example.com", "link")
    rig.advance(timedelta(hours=24))
    assert rig.email.sent == [] and "suppressed" in rig.reasons("acme", "c1")
    with rig.store.reading() as tx:
        latest = tx.consent.latest("acme", "email", ALICE_EMAIL)
    assert latest is not None and not latest.granted


def test_the_first_send_is_decided_in_the_abandoning_transaction_all_or_nothing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cart is abandoned and its first message written in one transaction: a failure
    while writing the message leaves neither, and the run is taken again after its lease."""
    rig.cart("acme", "c1")
    rig.clock.advance(timedelta(minutes=30))

    def broken(*_args: object) -> None:
        raise RuntimeError("the message could not be written")

    monkeypatch.setattr(rig.runtime.scheduler.sender, "_write", broken)
    rig.tick()
    assert rig.messages("acme", "c1") == [] and rig.sms.sent == []
    assert rig.found("acme", "c1").abandoned_at is None and rig.decisions("acme", "c1") == []
    monkeypatch.undo()
    rig.advance(timedelta(minutes=5))
    [message] = rig.messages("acme", "c1")
    assert [m.id for m in rig.sms.sent] == [message.id] and message.status == Kept.SENT
    actions = [entry.action for entry in rig.decisions("acme", "c1")]
    assert actions.count("abandon") == 1 and actions.count("send") == 1


def test_a_crash_after_the_message_row_resends_the_same_id_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.cart("acme", "c1")
    rig.clock.advance(timedelta(minutes=30))

    def crash(*_args: object) -> None:
        raise RuntimeError("process killed between the message row and the gateway call")

    monkeypatch.setattr(rig.runtime.scheduler.sender, "_deliver", crash)
    rig.tick()
    assert rig.sms.sent == []
    [queued] = rig.messages("acme", "c1")
    assert queued.status == Kept.QUEUED
    monkeypatch.undo()
    assert rig.tick() == 0  # the lease still holds the run
    rig.advance(timedelta(minutes=5))
    assert [m.id for m in rig.sms.sent] == [queued.id]
    assert rig.messages("acme", "c1")[0].status == Kept.SENT
    rig.advance(timedelta(minutes=10))
    assert len(rig.sms.sent) == 1


def test_two_workers_never_send_the_same_step_twice() -> None:
    carts = 120
    rig = make_rig(CONFIG)
    for n in range(carts):
        rig.cart("acme", f"c{n}", phone=f"+45201{n:05d}", email=None)
    clock = FakeClock(START + timedelta(minutes=31))
    gateways = [FakeGateway(clock, name="fake-sms") for _ in range(2)]
    workers = []
    for gateway in gateways:
        runtime = build(
            settings_from(CONFIG), clock=clock, gateways={Channel.SMS: gateway}, store=rig.store
        )
        runtime.scheduler.settings = SchedulerSettings(7, timedelta(minutes=5))
        workers.append(runtime)
    barrier = threading.Barrier(len(workers))

    def work(index: int) -> None:
        barrier.wait()
        while workers[index].scheduler.tick():
            pass

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    sent = [m.id for gateway in gateways for m in gateway.sent]
    assert len(sent) == carts and len(set(sent)) == carts
    assert len({m.to for gateway in gateways for m in gateway.sent}) == carts
    with rig.store.reading() as tx:
        waiting = [tx.runs.for_cart(n + 1) for n in range(carts)]
    assert all(run is not None and run.step_index == 2 for run in waiting)
