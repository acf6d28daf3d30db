"""One send step: policy right before the send, the message row before the gateway call."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine

from cartback.channels.base import Gateway, OutgoingMessage, SendResult, SendStatus
from cartback.clock import Clock
from cartback.domain import sms
from cartback.domain.events import Channel
from cartback.domain.flow import Flow, SendStep
from cartback.domain.phone import phone_timezones
from cartback.domain.policy import Action, Decision, Reason, SendFacts, decide
from cartback.domain.quiet_hours import QuietHours
from cartback.domain.redact import mask_email, mask_phone
from cartback.engine.render import render
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


@dataclass(frozen=True, slots=True)
class ChannelSetup:
    gateway: Gateway
    sender: str | None
    cost_per_segment: Decimal = Decimal("0")


@dataclass(frozen=True, slots=True)
class SenderSettings:
    public_url: str
    cooldown: timedelta
    quiet_hours: QuietHours | None


class Sender:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        stores: Callable[[str], StoreInfo],
        channels: Mapping[Channel, ChannelSetup],
        settings: SenderSettings,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.stores = stores
        self.channels = channels
        self.settings = settings

    def run_step(self, claim: queue.Claimed, flow: Flow, index: int, step: SendStep) -> Decision:
        with write_transaction(self.engine) as conn:
            prepared = self._prepare(conn, claim, flow, index, step)
        if isinstance(prepared, Decision):
            return prepared
        self._deliver(prepared)
        return Decision(Action.SEND, Reason.OK, "sent")

    def _prepare(
        self, conn: Connection, claim: queue.Claimed, flow: Flow, index: int, step: SendStep
    ) -> OutgoingMessage | Decision:
        """Decide, and if sending, write the message row; all in one locked transaction."""
        now = self.clock.now()
        cart = carts.get_for_update(conn, claim.cart_id)
        if cart is None:
            raise LookupError(f"run {claim.id} points at a missing cart {claim.cart_id}")
        existing = messages.for_step(conn, claim.id, index)
        if existing is not None:
            return self._resume(conn, claim, index, existing, now)
        store = self.stores(cart.store_id)
        facts = self._facts(conn, cart, claim, step.channel, store, now)
        decision = decide(facts)
        self._record(conn, claim, flow.id, index, decision, now)
        if decision.action == Action.SEND:
            if not queue.hold(conn, claim):
                raise RuntimeError(f"run {claim.id} lost its claim")
            return self._write_message(
                conn, claim, flow, index, step, cart, store, facts.address, now
            )
        if decision.action == Action.CANCEL:
            queue.finish(conn, claim, queue.CANCELLED, str(decision.reason), now)
        elif decision.action == Action.DEFER:
            assert decision.until is not None
            queue.advance(conn, claim, index, decision.until, now)
        return decision

    def _resume(
        self, conn: Connection, claim: queue.Claimed, index: int, existing: AnyRow, now: datetime
    ) -> OutgoingMessage | Decision:
        """A message row exists for this step: a crash came between writing it and the gateway.

        It is sent again under the same id, which the gateway deduplicates; never a new message.
        """
        if existing.status != messages.QUEUED:
            return Decision(Action.SKIP, Reason.OK, "already sent")
        log.info("resending queued message", extra={"message_id": existing.id, "run_id": claim.id})
        return OutgoingMessage(
            id=existing.id,
            channel=Channel(existing.channel),
            to=existing.recipient,
            sender=existing.sender,
            text=existing.body,
            subject=None,
        )

    def _facts(
        self,
        conn: Connection,
        cart: AnyRow,
        claim: queue.Claimed,
        channel: Channel,
        store: StoreInfo,
        now: datetime,
    ) -> SendFacts:
        address = cart.email if channel == Channel.EMAIL else cart.phone
        consent_channel = Channel.SMS if channel == Channel.RCS else channel
        zones = phone_timezones(cart.phone) if cart.phone else ()
        return SendFacts(
            channel=channel,
            now=now,
            purchased=cart.status == carts.PURCHASED
            or carts.ordered_since(
                conn, cart.store_id, cart.email, cart.phone, cart.last_activity_at
            ),
            deleted=cart.status == carts.DELETED,
            address=address,
            phone_raw=cart.phone_raw,
            consent=bool(address)
            and consent.granted(conn, cart.store_id, consent_channel, address),
            suppressed=bool(address) and consent.is_suppressed(conn, consent_channel, address),
            channel_configured=channel in self.channels,
            has_recovery_url=bool(cart.recovery_url),
            last_promotional_at=messages.last_to_recipient(conn, address, exclude_run=claim.id)
            if address
            else None,
            cooldown=self.settings.cooldown,
            quiet_hours=self.settings.quiet_hours,
            zones=zones or (store.timezone,),
            store_zone=store.timezone,
        )

    def _record(
        self,
        conn: Connection,
        claim: queue.Claimed,
        flow_id: str,
        index: int,
        decision: Decision,
        now: datetime,
    ) -> None:
        queue.record_decision(
            conn,
            cart_id=claim.cart_id,
            run_id=claim.id,
            flow_id=flow_id,
            step_index=index,
            at=now,
            action=str(decision.action),
            reason=str(decision.reason),
            detail=decision.detail,
            until=decision.until,
        )

    def _write_message(
        self,
        conn: Connection,
        claim: queue.Claimed,
        flow: Flow,
        index: int,
        step: SendStep,
        cart: AnyRow,
        store: StoreInfo,
        address: str | None,
        now: datetime,
    ) -> OutgoingMessage:
        assert address is not None
        setup = self.channels[step.channel]
        message_id = secrets.token_hex(16)
        code = secrets.token_urlsafe(9)
        link = f"{self.settings.public_url}/r/{code}"
        rendered = render(step.channel, step.template, _context(cart, store, link))
        segments, encoding, cost = _cost(step.channel, rendered.text, setup.cost_per_segment)
        messages.insert_message(
            conn,
            {
                "id": message_id,
                "store_id": cart.store_id,
                "cart_id": cart.id,
                "run_id": claim.id,
                "flow_id": flow.id,
                "step_index": index,
                "channel": str(step.channel),
                "provider": setup.gateway.name,
                "recipient": address,
                "sender": setup.sender,
                "body": rendered.text,
                "encoding": encoding,
                "segments": segments,
                "cost": cost,
                "currency": store.currency or cart.currency,
                "link_code": code,
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
                "target_url": cart.recovery_url,
                "created_at": now,
            },
        )
        return OutgoingMessage(
            message_id, step.channel, address, setup.sender, rendered.text, rendered.subject
        )

    def _deliver(self, message: OutgoingMessage) -> None:
        gateway = self.channels[message.channel].gateway
        try:
            result = gateway.send(message)
        except Exception as exc:  # a gateway bug must not lose the record of the attempt
            log.exception("gateway raised", extra={"message_id": message.id})
            result = SendResult(SendStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        self._store_result(message, result)
        to = mask_email(message.to) if message.channel == Channel.EMAIL else mask_phone(message.to)
        log.info(
            "message %s",
            result.status,
            extra={"message_id": message.id, "to": to, "channel": str(message.channel)},
        )

    def _store_result(self, message: OutgoingMessage, result: SendResult) -> None:
        now = self.clock.now()
        with self.engine.begin() as conn:
            messages.set_status(
                conn,
                message.id,
                status=str(result.status),
                provider_message_id=result.provider_message_id,
                error=result.error,
                sent_at=result.sent_at or now if result.status == SendStatus.SENT else None,
                status_at=now,
            )


def _context(cart: AnyRow, store: StoreInfo, link: str) -> dict[str, Any]:
    return {
        "first_name": cart.first_name or "",
        "last_name": cart.last_name or "",
        "store_name": store.name,
        "link": link,
        "total": cart.total,
        "currency": cart.currency,
        "items": cart.items,
    }


def _cost(channel: Channel, text: str, per_segment: Decimal) -> tuple[int, str | None, Decimal]:
    if channel not in (Channel.SMS, Channel.RCS):
        return 0, None, Decimal("0")
    info = sms.analyse(text)
    return info.segments, str(info.encoding), sms.segment_cost(info.segments, per_segment)
