"""Calling the gateway for a written message, with no transaction open, and recording how it went.

Every attempt is a row. A gateway that asks for a retry gets one later (backoff with jitter, a
breaker per gateway); the run waits at the same step and resends under the same message id.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from cartback.channels.base import Gateway, OutgoingMessage, SendResult, SendStatus
from cartback.clock import Clock
from cartback.domain import sms
from cartback.domain.events import Channel
from cartback.domain.policy import Action, Decision, Reason
from cartback.domain.records import Claim, MessageStatus, SendAttempt, Suppression
from cartback.domain.redact import mask_email, mask_phone
from cartback.engine import runs
from cartback.engine.pacing import Pacing
from cartback.engine.retry import Breaker, RetryPolicy
from cartback.metrics import Metrics
from cartback.store.base import MessageChanges, Store, Tx
from cartback.store.sent import Onward

log = logging.getLogger("cartback.sender")


_FINAL = {
    SendStatus.SENT: MessageStatus.SENT,
    SendStatus.FAILED: MessageStatus.FAILED,
    SendStatus.RETRY: MessageStatus.FAILED,
    SendStatus.SKIPPED: MessageStatus.SKIPPED,
}


@dataclass(frozen=True, slots=True)
class ChannelSetup:
    gateway: Gateway
    sender: str | None
    cost_per_segment: Decimal = Decimal("0")
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A written message on its way to the gateway, and the tries it already had."""

    message: OutgoingMessage
    setup: ChannelSetup
    attempts: int


class Dispatcher:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        breaker: Breaker,
        rng: random.Random,
        metrics: Metrics | None = None,
        pacing: Pacing | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.breaker = breaker
        self.rng = rng
        self.metrics = metrics or Metrics()
        self.pacing = pacing or Pacing()

    def deliver(
        self, claim: Claim, flow_id: str, index: int, out: Outgoing, onward: Onward | None = None
    ) -> Decision:
        """Call the gateway (no transaction open), then record the attempt and its outcome;
        `onward`: where the run goes when the message went out, written with the outcome (a
        SEND decision says it was)."""
        gateway = out.setup.gateway
        now = self.clock.now()
        resting = self.breaker.open_until(gateway.name, now)
        if resting is not None:
            return self._postpone(claim, flow_id, index, out, resting, "is resting after failures")
        pacer, sender = self.pacing.of(gateway), out.message.sender
        # The gateway's calls in flight and its sender's rate (by segment where it counts them).
        with pacer.call(sender, _segments(out.message) if pacer.limits.by_segment else 1):
            result, duration_ms = _call(gateway, out.message)
        pacer.answered(sender, throttled=result.throttled)
        self.breaker.record(gateway.name, result.status == SendStatus.RETRY, now)
        self._count(claim, out, result, duration_ms, now)
        number = out.attempts + 1
        attempt = SendAttempt(
            out.message.id,
            number,
            now,
            duration_ms,
            str(result.status),
            result.http_status,
            result.error,
        )
        _log(out.message, result)
        try:
            if _plain(result):  # most answers: one write, one statement on PostgreSQL
                self.store.record_sent(attempt, _changes(result, attempt), onward, self.clock.now())
                return _SENT
            with self.store.transaction() as tx:  # one commit per answer
                return self._outcome(tx, claim, flow_id, index, out, result, attempt, onward)
        except Exception:
            with self.store.transaction() as tx:  # every attempt is a row, whatever came after
                tx.messages.add_attempt(attempt)
            raise

    def _outcome(
        self,
        tx: Tx,
        claim: Claim,
        flow_id: str,
        index: int,
        out: Outgoing,
        result: SendResult,
        attempt: SendAttempt,
        onward: Onward | None,
    ) -> Decision:
        """The attempt's row, written with its message's outcome (one statement where the
        store can), then the run's move."""
        number, now = attempt.number, attempt.started_at
        if result.status == SendStatus.RETRY and number < out.setup.retry.max_attempts:
            retry_at = now + out.setup.retry.delay(number, self.rng)
            why = f"did not answer ({result.error})"
            return self._postponed(
                tx, claim, flow_id, index, out, retry_at, why, self.clock.now(), attempt
            )
        decision = self._settle(tx, claim, flow_id, index, out, result, attempt)
        if onward is not None and decision.action == Action.SEND:
            onward.write(tx.runs, self.clock.now())  # the run goes on from the answer
        return decision

    def _count(
        self, claim: Claim, out: Outgoing, result: SendResult, duration_ms: int, now: datetime
    ) -> None:
        gateway = out.setup.gateway.name
        channel = str(out.message.channel)
        self.metrics.count_send(channel, gateway, str(result.status), duration_ms / 1000)
        if result.status == SendStatus.SENT:
            self.metrics.observe_lag(claim.due_at, result.sent_at or now)

    def _postpone(
        self, claim: Claim, flow_id: str, index: int, out: Outgoing, until: datetime, why: str
    ) -> Decision:
        with self.store.transaction() as tx:
            return self._postponed(tx, claim, flow_id, index, out, until, why, self.clock.now())

    def _postponed(
        self,
        tx: Tx,
        claim: Claim,
        flow_id: str,
        index: int,
        out: Outgoing,
        until: datetime,
        why: str,
        now: datetime,
        attempt: SendAttempt | None = None,
    ) -> Decision:
        """`attempt`: the call that asked for the retry (none when the breaker held it)."""
        detail = (
            f"{out.setup.gateway.name} {why}; message {out.message.id} is tried again "
            f"at {until:%Y-%m-%d %H:%M:%S} UTC."
        )
        decision = Decision(Action.DEFER, Reason.GATEWAY_RETRY, detail, until=until)
        if attempt is None:
            tx.messages.update(out.message.id, error=why, status_at=now)
        else:
            tx.messages.add_attempt(attempt, error=why, status_at=now)
        runs.wait(tx, claim, index, until, now)
        runs.record(tx, claim, flow_id, index, decision, now)
        return decision

    def _settle(
        self,
        tx: Tx,
        claim: Claim,
        flow_id: str,
        index: int,
        out: Outgoing,
        result: SendResult,
        attempt: SendAttempt,
    ) -> Decision:
        now = attempt.started_at
        changes = _changes(result, attempt)
        gateway = out.setup.gateway.name
        decision = _SENT
        if result.status != SendStatus.SENT:
            detail = f"{gateway} did not send it: {result.error or result.status}."
            decision = Decision(Action.SKIP, Reason.GATEWAY_FAILED, detail)
        if result.provider_segments is not None:  # the row is read only when the gateway counted
            stored = tx.messages.get(out.message.id)
            if stored is not None and stored.segments:
                changes["provider_segments"] = result.provider_segments
                changes["cost"] = stored.cost / stored.segments * result.provider_segments
        tx.messages.add_attempt(attempt, **changes)
        if result.suppress:
            kind = "email" if out.message.channel == Channel.EMAIL else "sms"
            reason = f"gateway:{result.error_code or 'opted-out'}"
            tx.consent.suppress(Suppression(kind, out.message.to, reason, gateway, now))
        if decision.action == Action.SKIP:
            runs.record(tx, claim, flow_id, index, decision, now)
        return decision


_SENT = Decision(Action.SEND, Reason.OK, "sent")


def _plain(result: SendResult) -> bool:
    """A message sent whose answer needs no reading (no segments counted by the gateway, no
    opt-out): written with `Store.record_sent`, where a transaction took four round trips."""
    return (
        result.status == SendStatus.SENT
        and result.provider_segments is None
        and not result.suppress
    )


def _changes(result: SendResult, attempt: SendAttempt) -> MessageChanges:
    """The message's outcome, from its gateway's answer to `attempt`."""
    now = attempt.started_at
    changes: MessageChanges = {
        "status": _FINAL[result.status],
        "provider_message_id": result.provider_message_id,
        "error": result.error if result.status != SendStatus.SENT else None,
        "error_code": result.error_code,
        "status_at": now,
    }
    if result.status == SendStatus.SENT:
        changes["sent_at"] = result.sent_at or now
    if result.status == SendStatus.RETRY:
        changes["error"] = f"gave up after {attempt.number} attempts: {result.error}"
    if result.channel_used is not None:
        changes["channel_used"] = str(result.channel_used)
    return changes


def _segments(message: OutgoingMessage) -> int:
    """The SMS segments a message takes of a pace that counts them (an email: one)."""
    return sms.analyse(message.text).segments if message.channel == Channel.SMS else 1


def _call(gateway: Gateway, message: OutgoingMessage) -> tuple[SendResult, int]:
    started = time.perf_counter()
    try:
        result = gateway.send(message)
    except Exception as exc:  # a gateway bug must not lose the record of the attempt
        log.exception("gateway raised", extra={"message_id": message.id})
        result = SendResult(SendStatus.RETRY, error=f"{type(exc).__name__}: {exc}")
    return result, int((time.perf_counter() - started) * 1000)


def _log(message: OutgoingMessage, result: SendResult) -> None:
    to = mask_email(message.to) if message.channel == Channel.EMAIL else mask_phone(message.to)
    log.info(
        "gateway answered %s",
        result.status,
        extra={"message_id": message.id, "to": to, "channel": str(message.channel)},
    )
