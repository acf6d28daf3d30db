"""What comes back from gateways and recipients: delivery reports, replies, unsubscribes."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection, Engine

from cartback.channels.base import InboundMessage, MessageStatus, StatusReport
from cartback.clock import Clock
from cartback.domain.events import Channel
from cartback.domain.keywords import Intent, intent
from cartback.domain.redact import mask_email, mask_phone
from cartback.store import consent, inbound, messages, queue
from cartback.store.db import write_transaction
from cartback.store.types import AnyRow

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
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    # delivery reports --------------------------------------------------------------------

    def apply_report(self, report: StatusReport) -> bool:
        """Apply one delivery report; False when no message of ours matches it."""
        now = self.clock.now()
        with write_transaction(self.engine) as conn:
            row = self._message_for(conn, report)
            if row is None:
                log.info("report for an unknown message", extra={"provider": report.provider})
                return False
            self._update_message(conn, row, report, now)
            if report.suppress:
                self._suppress_sms(conn, row.recipient, report.provider, report.error_code, now)
            if report.status == MessageStatus.SKIPPED:
                self._record_gateway_skip(conn, row, report, now)
        return True

    def _message_for(self, conn: Connection, report: StatusReport) -> AnyRow | None:
        if report.message_id:
            row = messages.get(conn, report.message_id)
            if row is not None:
                return row
        if report.provider_message_id:
            return messages.by_provider_id(conn, report.provider, report.provider_message_id)
        return None

    def _update_message(
        self, conn: Connection, row: AnyRow, report: StatusReport, now: datetime
    ) -> None:
        values: dict[str, object] = {"status_at": now}
        if _RANK[report.status] > _RANK.get(MessageStatus(row.status), 0):
            values["status"] = str(report.status)
        if report.error_code or report.error:
            values.update(error_code=report.error_code, error=report.error)
        if report.channel_used is not None:
            values["channel_used"] = str(report.channel_used)
        if report.provider_segments is not None and row.channel in (Channel.SMS, Channel.RCS):
            values.update(_real_segments(row, report.provider_segments))
        if report.provider_message_id and not row.provider_message_id:
            values["provider_message_id"] = report.provider_message_id
        messages.set_status(conn, row.id, **values)

    def _suppress_sms(
        self, conn: Connection, phone: str, provider: str, code: str | None, now: datetime
    ) -> None:
        consent.suppress(conn, "sms", phone, f"gateway:{code or 'opted-out'}", provider, now)
        log.info("number suppressed by gateway", extra={"to": mask_phone(phone), "code": code})

    def _record_gateway_skip(
        self, conn: Connection, row: AnyRow, report: StatusReport, now: datetime
    ) -> None:
        queue.record_decision(
            conn,
            cart_id=row.cart_id,
            run_id=row.run_id,
            flow_id=row.flow_id,
            step_index=row.step_index,
            at=now,
            action="skip",
            reason="gateway_cooldown",
            detail=f"{report.provider} held the message back by its own rule ({report.error}).",
        )

    # replies -----------------------------------------------------------------------------

    def apply_inbound(self, message: InboundMessage) -> Intent:
        """Record a reply; STOP suppresses the number everywhere, START records a new opt-in."""
        now = self.clock.now()
        wanted = intent(message.text)
        with write_transaction(self.engine) as conn:
            if not inbound.record(conn, message, str(wanted), now):
                return Intent.NONE  # already applied
            if wanted == Intent.STOP:
                consent.suppress(
                    conn, "sms", message.sender, consent.STOP_REPLY, message.provider, now
                )
            elif wanted == Intent.START:
                consent.unsuppress(conn, "sms", message.sender)
            if wanted in (Intent.STOP, Intent.START):  # HELP changes no consent
                self._ledger(conn, message, wanted == Intent.START, now)
        log.info("reply", extra={"sender": mask_phone(message.sender), "intent": str(wanted)})
        return wanted

    def _ledger(
        self, conn: Connection, message: InboundMessage, granted: bool, now: datetime
    ) -> None:
        for store_id in inbound.stores_knowing(conn, message.sender) or [GLOBAL]:
            consent.record(
                conn,
                {
                    "store_id": store_id,
                    "channel": "sms",
                    "address": message.sender,
                    "granted": granted,
                    "source": f"reply:{message.provider}",
                    "detail": f"replied {message.text.strip()[:160]!r}",
                    "occurred_at": message.received_at,
                    "recorded_at": now,
                },
            )

    # email unsubscribe -------------------------------------------------------------------

    def unsubscribe_email(self, store_id: str, email: str, how: str) -> None:
        now = self.clock.now()
        address = email.strip().lower()
        with write_transaction(self.engine) as conn:
            consent.suppress(conn, "email", address, "unsubscribe", how, now)
            consent.record(
                conn,
                {
                    "store_id": store_id,
                    "channel": "email",
                    "address": address,
                    "granted": False,
                    "source": how,
                    "detail": "unsubscribed through the link in a recovery email",
                    "occurred_at": now,
                    "recorded_at": now,
                },
            )
        log.info("email unsubscribed", extra={"store": store_id, "to": mask_email(address)})


def _real_segments(row: AnyRow, counted: int) -> dict[str, object]:
    """The gateway's segment count is what is billed: cost follows it at the rate used."""
    values: dict[str, object] = {"provider_segments": counted}
    if row.segments and counted != row.segments:
        values["cost"] = row.cost / row.segments * counted
    return values
