"""What comes back from gateways and recipients: delivery reports, replies, unsubscribes."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from cartback.channels.base import InboundMessage, StatusReport
from cartback.clock import Clock
from cartback.domain.emails import normalize_email
from cartback.domain.events import Channel
from cartback.domain.keywords import Intent, intent
from cartback.domain.policy import Reason
from cartback.domain.records import (
    STOP_REPLY,
    ConsentEntry,
    DecisionAction,
    DecisionEntry,
    Message,
    MessageStatus,
    Reply,
    Suppression,
)
from cartback.domain.redact import mask_email, mask_phone
from cartback.engine.help_reply import HelpResponder
from cartback.store.base import Store, Tx

log = logging.getLogger("cartback.feedback")

# A report never moves a message back: a late "sent" after "delivered" changes nothing.
_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.SKIPPED: 2,
    MessageStatus.DELIVERED: 2,
    MessageStatus.UNDELIVERED: 2,
    MessageStatus.FAILED: 2,
}
GLOBAL = "*"  # ledger entries that no single store owns (a STOP reply reaches every store)


class Feedback:
    def __init__(self, store: Store, clock: Clock, help: HelpResponder | None = None) -> None:
        self.store = store
        self.clock = clock
        self.help = help  # answers HELP replies, where an SMS gateway is configured

    # delivery reports --------------------------------------------------------------------

    def apply_report(self, report: StatusReport) -> bool:
        """Apply one delivery report; False when no message of ours matches it."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            message = _message_for(tx, report)
            if message is None:
                log.info("report for an unknown message", extra={"provider": report.provider})
                return False
            tx.messages.update(message.id, **_changes(message, report, now))
            if report.suppress:
                reason = f"gateway:{report.error_code or 'opted-out'}"
                tx.consent.suppress(
                    Suppression("sms", message.recipient, reason, report.provider, now)
                )
                extra = {"to": mask_phone(message.recipient), "code": report.error_code}
                log.info("number suppressed by gateway", extra=extra)
            if report.status == MessageStatus.SKIPPED:
                detail = (
                    f"{report.provider} held the message back by its own rule ({report.error})."
                )
                tx.decisions.add(
                    DecisionEntry(
                        cart_id=message.cart_id,
                        at=now,
                        action=DecisionAction.SKIP,
                        reason=Reason.GATEWAY_COOLDOWN,
                        detail=detail,
                        run_id=message.run_id,
                        flow_id=message.flow_id,
                        step_index=message.step_index,
                    )
                )
        return True

    # replies -----------------------------------------------------------------------------

    def apply_inbound(self, message: InboundMessage) -> Intent:
        """Record a reply; STOP suppresses the number everywhere, START records a new opt-in."""
        now = self.clock.now()
        wanted = intent(message.text)
        reply = Reply(
            message.provider,
            message.provider_id,
            message.sender,
            message.text,
            message.received_at,
            message.recipient,
        )
        with self.store.transaction() as tx:
            if not tx.consent.add_reply(reply, str(wanted), now):
                return Intent.NONE  # already applied
            if wanted == Intent.STOP:
                tx.consent.suppress(
                    Suppression("sms", message.sender, STOP_REPLY, message.provider, now)
                )
            elif wanted == Intent.START:
                tx.consent.unsuppress("sms", message.sender)
            if wanted in (Intent.STOP, Intent.START):  # HELP changes no consent
                _ledger(tx, message, wanted == Intent.START, now)
        log.info("reply", extra={"sender": mask_phone(message.sender), "intent": str(wanted)})
        if wanted == Intent.HELP and self.help is not None:
            _answer_help(self.help, message)
        return wanted

    # email unsubscribe -------------------------------------------------------------------

    def unsubscribe_email(self, store_id: str, email: str, how: str) -> None:
        now = self.clock.now()
        address = normalize_email(email) or email
        with self.store.transaction() as tx:
            tx.consent.suppress(Suppression("email", address, "unsubscribe", how, now))
            tx.consent.add(
                ConsentEntry(
                    store_id=store_id,
                    channel="email",
                    address=address,
                    granted=False,
                    source=how,
                    occurred_at=now,
                    recorded_at=now,
                    detail="unsubscribed through the link in a recovery email",
                )
            )
        log.info("email unsubscribed", extra={"store": store_id, "to": mask_email(address)})


def _answer_help(responder: HelpResponder, message: InboundMessage) -> None:
    """After the reply is recorded: a gateway that fails must not lose it."""
    try:
        responder.answer(message)
    except Exception:
        log.exception("help answer failed", extra={"sender": mask_phone(message.sender)})


def _message_for(tx: Tx, report: StatusReport) -> Message | None:
    if report.message_id:
        found = tx.messages.get(report.message_id)
        if found is not None:
            return found
    if report.provider_message_id:
        return tx.messages.by_provider_id(report.provider, report.provider_message_id)
    return None


def _changes(message: Message, report: StatusReport, now: datetime) -> dict[str, Any]:
    changes: dict[str, Any] = {"status_at": now}
    if _RANK[report.status] > _RANK.get(message.status, 0):
        changes["status"] = report.status
    if report.error_code or report.error:
        changes.update(error_code=report.error_code, error=report.error)
    if report.channel_used is not None:
        changes["channel_used"] = str(report.channel_used)
    if report.provider_segments is not None and message.channel in (Channel.SMS, Channel.RCS):
        # The gateway's segment count is what is billed: cost follows it at the rate used.
        changes["provider_segments"] = report.provider_segments
        if message.segments and report.provider_segments != message.segments:
            changes["cost"] = message.cost / message.segments * report.provider_segments
    if report.provider_message_id and not message.provider_message_id:
        changes["provider_message_id"] = report.provider_message_id
    return changes


def _ledger(tx: Tx, message: InboundMessage, granted: bool, now: datetime) -> None:
    for store_id in tx.carts.stores_knowing_phone(message.sender) or [GLOBAL]:
        tx.consent.add(
            ConsentEntry(
                store_id=store_id,
                channel="sms",
                address=message.sender,
                granted=granted,
                source=f"reply:{message.provider}",
                occurred_at=message.received_at,
                recorded_at=now,
                detail=f"replied {message.text.strip()[:160]!r}",
            )
        )
