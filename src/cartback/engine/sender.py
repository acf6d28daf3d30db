"""One send step: policy right before the send, the message row before the gateway call.

At most once per step to the customer: the message row (unique per run and step) is written in
the same transaction as the decision, before the gateway is called. A crash in between leaves the
row queued; the next claim sends it again under the same id, which the gateway deduplicates.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, Engine

from cartback.channels.base import Gateway, OutgoingMessage, SendResult, SendStatus
from cartback.clock import Clock
from cartback.domain.events import Channel
from cartback.domain.flow import Flow, SendStep
from cartback.domain.policy import Action, Decision, Reason, decide
from cartback.domain.redact import mask_email, mask_phone
from cartback.domain.sending_windows import SendingWindow
from cartback.engine.compose import Composer, sms_figures
from cartback.engine.discounting import Discount, DiscountIssuer, ShopAccess
from cartback.engine.facts import PolicySettings, Target, gather
from cartback.engine.retry import Breaker, RetryPolicy
from cartback.engine.segment_facts import segment_facts
from cartback.store import carts, consent, messages, queue
from cartback.store.db import write_transaction
from cartback.store.types import AnyRow

log = logging.getLogger("cartback.sender")


@dataclass(frozen=True, slots=True)
class StoreInfo:
    id: str
    name: str
    timezone: str
    currency: str | None
    consent_mode: str = "strict"
    shop: ShopAccess = field(default_factory=lambda: ShopAccess("generic", None, None))
    windows: Mapping[str, SendingWindow] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChannelSetup:
    gateway: Gateway
    sender: str | None
    cost_per_segment: Decimal = Decimal("0")
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True, slots=True)
class SenderSettings:
    public_url: str
    policy: PolicySettings


@dataclass(frozen=True, slots=True)
class Prepared:
    message: OutgoingMessage
    setup: ChannelSetup
    attempts: int  # tries already made


class Sender:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        stores: Callable[[str], StoreInfo],
        channels: Mapping[Channel, ChannelSetup],
        settings: SenderSettings,
        composer: Composer,
        *,
        breaker: Breaker | None = None,
        rng: random.Random | None = None,
        discounts: DiscountIssuer | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.stores = stores
        self.channels = channels
        self.settings = settings
        self.composer = composer
        self.breaker = breaker or Breaker()
        self.rng = rng or random.Random()
        self.discounts = discounts or DiscountIssuer()

    def run_step(self, claim: queue.Claimed, flow: Flow, index: int, step: SendStep) -> Decision:
        with write_transaction(self.engine) as conn:
            prepared = self._prepare(conn, claim, flow, index, step)
        if isinstance(prepared, Decision):
            return prepared
        return self._deliver(claim, flow.id, index, prepared)

    def route(self, step: SendStep) -> Channel | None:
        """The channel that will carry a step: RCS falls back to SMS where there is no RCS."""
        if step.channel in self.channels:
            return step.channel
        if step.channel == Channel.RCS and step.fallback == Channel.SMS:
            return Channel.SMS if Channel.SMS in self.channels else None
        return None

    # deciding and writing the message ----------------------------------------------------

    def _prepare(
        self, conn: Connection, claim: queue.Claimed, flow: Flow, index: int, step: SendStep
    ) -> Prepared | Decision:
        now = self.clock.now()
        cart = carts.get_for_update(conn, claim.cart_id)
        if cart is None:
            raise LookupError(f"run {claim.id} points at a missing cart {claim.cart_id}")
        existing = messages.for_step(conn, claim.id, index)
        if existing is not None:
            return self._resume(cart, step, existing)
        store = self.stores(cart.store_id)
        route = self.route(step)
        target = Target(step.channel, route, store.timezone, store.consent_mode, store.windows)
        decision = decide(gather(conn, cart, claim.id, target, self.settings.policy, now))
        self._record(conn, claim, flow.id, index, decision, now)
        if decision.action == Action.SEND:
            if not queue.hold(conn, claim):
                raise RuntimeError(f"run {claim.id} lost its claim")
            assert route is not None
            if route != step.channel:
                self._note_fallback(conn, claim, flow.id, index, now)
            step, discount = self._personalise(conn, claim, flow.id, index, step, cart, store, now)
            return self._write(conn, claim, flow.id, index, step, route, cart, store, now, discount)
        if decision.action == Action.CANCEL:
            queue.finish(conn, claim, queue.CANCELLED, str(decision.reason), now)
        elif decision.action == Action.DEFER:
            assert decision.until is not None
            queue.advance(conn, claim, index, decision.until, now)
        return decision

    def _resume(self, cart: AnyRow, step: SendStep, existing: AnyRow) -> Prepared | Decision:
        """A message row exists for this step: resend it under the same id, or move on."""
        if existing.status != messages.QUEUED:
            return Decision(Action.SKIP, Reason.OK, "already sent")
        route = Channel(existing.channel)
        setup = self.channels.get(route)
        if setup is None:
            return Decision(Action.SKIP, Reason.CHANNEL_NOT_CONFIGURED, "channel removed")
        message = self.composer.compose(
            message_id=existing.id,
            route=route,
            step=step,
            cart=cart,
            store_name=self.stores(cart.store_id).name,
            sender=existing.sender,
            link_code=existing.link_code,
        )
        log.info("sending queued message again", extra={"message_id": existing.id})
        return Prepared(message, setup, existing.attempts)

    def _record(
        self,
        conn: Connection,
        claim: queue.Claimed,
        flow_id: str,
        index: int,
        decision: Decision,
        now: datetime,
        *,
        action: str | None = None,
    ) -> None:
        action = action or str(decision.action)
        reason = str(decision.reason)
        queue.decide_for(
            conn, claim, flow_id, index, now, action, reason, decision.detail, decision.until
        )

    def _note_fallback(
        self, conn: Connection, claim: queue.Claimed, flow_id: str, index: int, now: datetime
    ) -> None:
        detail = "The SMS provider offers no RCS, so the step's SMS fallback was sent instead."
        note = Decision(Action.SEND, Reason.RCS_FALLBACK, detail)
        self._record(conn, claim, flow_id, index, note, now, action="fallback")

    def _personalise(
        self,
        conn: Connection,
        claim: queue.Claimed,
        flow_id: str,
        index: int,
        step: SendStep,
        cart: AnyRow,
        store: StoreInfo,
        now: datetime,
    ) -> tuple[SendStep, Discount | None]:
        """The wording for the person's segment, and the discount if the rule grants one."""
        if not step.wordings and step.discount is None:
            return step, None
        facts = segment_facts(conn, cart, now)
        template, why = step.wording(facts)
        if why is not None:
            note = Decision(Action.SEND, Reason.OK, f"Wording for {why}.")
            self._record(conn, claim, flow_id, index, note, now, action="branch")
        discount = None
        if step.discount is not None:
            discount = self.discounts.issue(conn, step.discount, cart, facts, store.shop, now)
            queue.decide_for(
                conn, claim, flow_id, index, now, "discount", discount.reason, discount.detail
            )
        return replace(step, template=template), discount

    def _write(
        self,
        conn: Connection,
        claim: queue.Claimed,
        flow_id: str,
        index: int,
        step: SendStep,
        route: Channel,
        cart: AnyRow,
        store: StoreInfo,
        now: datetime,
        discount: Discount | None = None,
    ) -> Prepared:
        setup = self.channels[route]
        applied = discount if discount is not None and discount.applied else None
        extra = {"discount_code": applied.code, "discount": applied.label} if applied else {}
        message_id, code = secrets.token_hex(16), secrets.token_urlsafe(9)
        message = self.composer.compose(
            message_id=message_id,
            route=route,
            step=step,
            cart=cart,
            store_name=store.name,
            sender=setup.sender,
            link_code=code,
            extra=extra,
        )
        segments, encoding, cost = sms_figures(route, message.text, setup.cost_per_segment)
        messages.insert_message(
            conn,
            {
                "id": message_id,
                "store_id": cart.store_id,
                "cart_id": cart.id,
                "run_id": claim.id,
                "flow_id": flow_id,
                "step_index": index,
                "channel": str(route),
                "provider": setup.gateway.name,
                "recipient": message.to,
                "sender": setup.sender,
                "body": message.text,
                "encoding": encoding,
                "segments": segments,
                "cost": cost,
                "currency": store.currency or cart.currency,
                "link_code": code,
                "discount_code": applied.code if applied else None,
                "status": messages.QUEUED,
                "created_at": now,
            },
        )
        messages.insert_link(
            conn,
            {
                "code": code,
                "message_id": message_id,
                "cart_id": cart.id,
                "target_url": (applied and applied.link_target) or cart.recovery_url,
                "created_at": now,
            },
        )
        return Prepared(message, setup, 0)

    # calling the gateway -----------------------------------------------------------------

    def _deliver(
        self, claim: queue.Claimed, flow_id: str, index: int, prepared: Prepared
    ) -> Decision:
        gateway = prepared.setup.gateway
        now = self.clock.now()
        resting = self.breaker.open_until(gateway.name, now)
        if resting is not None:
            return self._postpone(
                claim, flow_id, index, prepared, resting, "is resting after failures"
            )
        result, duration_ms = self._call(gateway, prepared.message)
        self.breaker.record(gateway.name, result.status == SendStatus.RETRY, now)
        number = prepared.attempts + 1
        with write_transaction(self.engine) as conn:
            messages.record_attempt(
                conn,
                message_id=prepared.message.id,
                number=number,
                started_at=now,
                duration_ms=duration_ms,
                outcome=str(result.status),
                http_status=result.http_status,
                error=result.error,
            )
        self._log(prepared.message, result)
        if result.status == SendStatus.RETRY and number < prepared.setup.retry.max_attempts:
            retry_at = now + prepared.setup.retry.delay(number, self.rng)
            return self._postpone(
                claim, flow_id, index, prepared, retry_at, f"did not answer ({result.error})"
            )
        self._store_outcome(prepared, result, number, now)
        if result.status == SendStatus.SENT:
            return Decision(Action.SEND, Reason.OK, "sent")
        detail = f"{prepared.setup.gateway.name} did not send it: {result.error or result.status}."
        failed = Decision(Action.SKIP, Reason.GATEWAY_FAILED, detail)
        with write_transaction(self.engine) as conn:
            self._record(conn, claim, flow_id, index, failed, now)
        return failed

    def _call(self, gateway: Gateway, message: OutgoingMessage) -> tuple[SendResult, int]:
        started = time.perf_counter()
        try:
            result = gateway.send(message)
        except Exception as exc:  # a gateway bug must not lose the record of the attempt
            log.exception("gateway raised", extra={"message_id": message.id})
            result = SendResult(SendStatus.RETRY, error=f"{type(exc).__name__}: {exc}")
        return result, int((time.perf_counter() - started) * 1000)

    def _postpone(
        self,
        claim: queue.Claimed,
        flow_id: str,
        index: int,
        prepared: Prepared,
        until: datetime,
        why: str,
    ) -> Decision:
        now = self.clock.now()
        detail = (
            f"{prepared.setup.gateway.name} {why}; message {prepared.message.id} is tried again "
            f"at {until:%Y-%m-%d %H:%M:%S} UTC."
        )
        decision = Decision(Action.DEFER, Reason.GATEWAY_RETRY, detail, until=until)
        with write_transaction(self.engine) as conn:
            messages.set_status(conn, prepared.message.id, error=why, status_at=now)
            queue.advance(conn, claim, index, until, now)
            self._record(conn, claim, flow_id, index, decision, now)
        return decision

    def _store_outcome(
        self, prepared: Prepared, result: SendResult, attempts: int, now: datetime
    ) -> None:
        values: dict[str, object] = {
            "status": _final_status(result),
            "provider_message_id": result.provider_message_id,
            "error": result.error if result.status != SendStatus.SENT else None,
            "error_code": result.error_code,
            "status_at": now,
        }
        if result.status == SendStatus.SENT:
            values["sent_at"] = result.sent_at or now
        if result.status == SendStatus.RETRY:
            values["error"] = f"gave up after {attempts} attempts: {result.error}"
        if result.channel_used is not None:
            values["channel_used"] = str(result.channel_used)
        with write_transaction(self.engine) as conn:
            row = messages.get(conn, prepared.message.id)
            if result.provider_segments is not None and row is not None and row.segments:
                values["provider_segments"] = result.provider_segments
                values["cost"] = row.cost / row.segments * result.provider_segments
            messages.set_status(conn, prepared.message.id, **values)
            if result.suppress:
                kind = "email" if prepared.message.channel == Channel.EMAIL else "sms"
                reason = f"gateway:{result.error_code or 'opted-out'}"
                consent.suppress(
                    conn, kind, prepared.message.to, reason, prepared.setup.gateway.name, now
                )

    def _log(self, message: OutgoingMessage, result: SendResult) -> None:
        to = mask_email(message.to) if message.channel == Channel.EMAIL else mask_phone(message.to)
        log.info(
            "gateway answered %s",
            result.status,
            extra={"message_id": message.id, "to": to, "channel": str(message.channel)},
        )


def _final_status(result: SendResult) -> str:
    return {
        SendStatus.SENT: messages.SENT,
        SendStatus.FAILED: messages.FAILED,
        SendStatus.RETRY: messages.FAILED,
        SendStatus.SKIPPED: "skipped",
    }[result.status]
