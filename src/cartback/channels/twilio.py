"""Twilio Programmable Messaging: SMS and RCS out, status callbacks and replies in (webhooks).

- `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP Basic auth
  (Account SID, Auth Token): `To`, `Body`, `From` or `MessagingServiceSid`, `MediaUrl`,
  `StatusCallback`. The answer is the Message resource (`sid`, `status`, `num_segments` as a
  string, `error_code`, `error_message`, ...); errors are `{"code", "message", "more_info",
  "status"}` (21610: the recipient replied STOP; 21211 / 21614: not a valid / not a mobile `To`).
- RCS: send through a Messaging Service whose sender pool holds an RCS sender. Twilio tries RCS
  first and falls back to SMS by itself, with the SMS senders of the same pool. Addressing `To` as
  `rcs:+...` would switch that fallback off, so we never do.
- Webhooks (status callbacks, incoming messages) are form posts signed in `X-Twilio-Signature`:
  base64(HMAC-SHA1(auth token, full URL + each POST parameter's name and value, sorted by name)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Mapping

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from cartback.channels._http import (
    GatewayAnswerError,
    HttpOutcome,
    json_body,
    make_client,
    perform,
    scrub_numbers,
)
from cartback.channels.base import (
    InboundMessage,
    MessageStatus,
    OutgoingMessage,
    SendResult,
    SendStatus,
    StatusReport,
)
from cartback.clock import Clock
from cartback.domain.events import Channel
from cartback.domain.phone import InvalidPhone, normalize_phone
from cartback.domain.redact import mask_phone

log = logging.getLogger("cartback.channels.twilio")

DEFAULT_BASE_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
SIGNATURE_HEADER = "X-Twilio-Signature"
RCS_PREFIX = "rcs:"

ERROR_UNSUBSCRIBED = 21610
INVALID_NUMBER_ERRORS = frozenset({21211, 21614})
ERROR_TOO_MANY_REQUESTS = 20429  # with HTTP 429: never processed, safe to send again

# Twilio's pace, for when the channel's config sets none. Throughput is per sender, in message
# segments per second ("Understanding Twilio Rate Limits and Message Queues" and "Toll-Free SMS
# and MMS messaging throughput (MPS)" on help.twilio.com; error pages 30001 and 21611): a long
# code sends 1 to the US and Canada, a US toll-free number 3, a short code 100, and any number
# or alphanumeric sender 10 to other countries. Faster than that, Twilio queues the messages
# (for hours, then fails them with 30001), so sending at the sender's pace keeps the queue empty.
LONG_CODE_MPS = 1.0
TOLL_FREE_MPS = 3.0
INTERNATIONAL_MPS = 10.0
# The REST API bounds each account's concurrent requests and answers one too many with HTTP 429,
# error 20429 (twilio.com/docs/api/errors/20429); the page gives no number, so we keep to few.
TWILIO_CONCURRENCY = 8
_TOLL_FREE_PREFIXES = ("+1800", "+1833", "+1844", "+1855", "+1866", "+1877", "+1888")

_STATUSES: Mapping[str, MessageStatus] = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.QUEUED,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sid: str
    status: str
    num_segments: int | None = None
    error_code: int | None = None
    error_message: str | None = None


class _Error(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: int | None = None
    message: str | None = None
    status: int | None = None


class TwilioGateway:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None,
        messaging_service_sid: str | None,
        base_url: str = DEFAULT_BASE_URL,
        status_callback_url: str | None,
        clock: Clock,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not from_number and not messaging_service_sid:
            raise ValueError("twilio needs from_number or messaging_service_sid")
        self.account_sid = account_sid
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback_url = status_callback_url
        self.clock = clock
        self.messages_url = (
            f"{base_url.rstrip('/')}/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        )
        auth = httpx.BasicAuth(account_sid, auth_token)
        self._client = make_client(timeout=timeout, transport=transport, auth=auth)

    @property
    def supports_rcs(self) -> bool:
        return bool(self.messaging_service_sid)

    def close(self) -> None:
        self._client.close()

    # -- sending ---------------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> SendResult:
        form, channel = self._form(message)
        request = self._client.build_request(
            "POST", self.messages_url, data=form, headers={IDEMPOTENCY_HEADER: message.id}
        )
        outcome = perform(self._client, request)
        if outcome.status == SendStatus.SENT:
            return self._accepted(message, outcome, channel)
        return self._refused(message, outcome)

    def _form(self, message: OutgoingMessage) -> tuple[dict[str, str], Channel]:
        """The request form, and the channel asked for (RCS only through the Messaging Service)."""
        form = {"To": message.to, "Body": message.text}
        if message.channel == Channel.RCS and self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
            if message.rich is not None and message.rich.image_url:
                form["MediaUrl"] = message.rich.image_url
            channel = Channel.RCS
        else:
            form.update(self._sms_sender())
            if message.channel == Channel.RCS:
                form["Body"] = message.fallback_text or message.text
            channel = Channel.SMS
        if self.status_callback_url:
            form["StatusCallback"] = self.status_callback_url
        return form, channel

    def _sms_sender(self) -> dict[str, str]:
        # A plain number first: a Messaging Service with an RCS sender would upgrade SMS to RCS.
        if self.from_number:
            return {"From": self.from_number}
        if self.messaging_service_sid:
            return {"MessagingServiceSid": self.messaging_service_sid}
        raise ValueError("twilio needs from_number or messaging_service_sid")

    def _accepted(
        self, message: OutgoingMessage, outcome: HttpOutcome, channel: Channel
    ) -> SendResult:
        body = json_body(outcome.response) if outcome.response is not None else None
        try:
            answer = _Message.model_validate(body)
        except ValidationError:
            log.warning(
                "twilio accepted a message with an unreadable answer",
                extra={"message_id": message.id},
            )
            return SendResult(
                SendStatus.SENT, sent_at=self.clock.now(), http_status=outcome.http_status
            )
        return SendResult(
            SendStatus.SENT,
            sent_at=self.clock.now(),
            provider_message_id=answer.sid,
            http_status=outcome.http_status,
            provider_segments=answer.num_segments or None,
            # RCS may still become SMS later; the status callback tells.
            channel_used=Channel.SMS if channel == Channel.SMS else None,
        )

    def _refused(self, message: OutgoingMessage, outcome: HttpOutcome) -> SendResult:
        error = _twilio_error(outcome)
        code = error.code if error else None
        reason = (
            scrub_numbers(f"twilio {code}: {error.message}") if error and error.message else None
        )
        log.info(
            "twilio did not take the message",
            extra={
                "message_id": message.id,
                "outcome": str(outcome.status),
                "http_status": outcome.http_status,
                "error_code": code,
                "to": mask_phone(message.to),
            },
        )
        return SendResult(
            outcome.status,
            error=reason or outcome.error,
            error_code=str(code) if code is not None else None,
            http_status=outcome.http_status,
            suppress=code == ERROR_UNSUBSCRIBED,
        )

    # -- webhooks --------------------------------------------------------------------------

    def parse_status_callback(self, form: Mapping[str, str]) -> StatusReport:
        sid = form.get("MessageSid") or form.get("SmsSid")
        raw_status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
        if not sid or raw_status not in _STATUSES:
            raise GatewayAnswerError("twilio status callback lacks MessageSid or MessageStatus")
        error_code = form.get("ErrorCode") or None
        return StatusReport(
            provider=self.name,
            status=_STATUSES[raw_status],
            at=self.clock.now(),
            provider_message_id=sid,
            error_code=error_code,
            error=scrub_numbers(form["ErrorMessage"]) if form.get("ErrorMessage") else None,
            suppress=error_code == str(ERROR_UNSUBSCRIBED),
            channel_used=channel_used(form),
            provider_segments=_int_or_none(form.get("NumSegments")),
        )

    def parse_inbound(self, form: Mapping[str, str]) -> InboundMessage:
        sid = form.get("MessageSid") or form.get("SmsSid")
        raw_from = form.get("From")
        if not sid or not raw_from:
            raise GatewayAnswerError("twilio inbound message lacks MessageSid or From")
        try:
            sender = normalize_phone(_strip_channel(raw_from), None)
        except InvalidPhone:
            raise GatewayAnswerError("twilio inbound message has no valid sender number") from None
        if sender is None:
            raise GatewayAnswerError("twilio inbound message has no valid sender number")
        to = form.get("To")
        return InboundMessage(
            provider=self.name,
            provider_id=sid,
            sender=sender,
            recipient=_strip_channel(to) if to else None,
            text=form.get("Body", ""),
            received_at=self.clock.now(),
        )


def sender_rate(sender: str) -> float | None:
    """Twilio's messages/s for one sender: by the kind of number it sends from.

    Without a `+` number the messages go through the Messaging Service, which spreads them over
    the senders of its pool (a short code among them): its pace is the sum of theirs, which only
    the account knows (None). A `+1` number is taken to send to the US and Canada, any other
    number to the rest of the world.
    """
    if sender.startswith(_TOLL_FREE_PREFIXES):
        return TOLL_FREE_MPS
    if sender.startswith("+1"):
        return LONG_CODE_MPS
    if sender.startswith("+"):
        return INTERNATIONAL_MPS
    return None


def signature(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """Twilio's X-Twilio-Signature for a form POST to `url` (query string included)."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(
    url: str, params: Mapping[str, str], header: str | None, auth_token: str
) -> bool:
    if not header:
        return False
    expected = signature(url, params, auth_token)
    return hmac.compare_digest(expected.encode(), header.strip().encode())


def channel_used(form: Mapping[str, str]) -> Channel:
    """RCS when the callback names the RCS channel (prefix or `rcs:` address), else SMS."""
    if form.get("ChannelPrefix", "").lower() == "rcs":
        return Channel.RCS
    addresses = (form.get("From", ""), form.get("To", ""))
    if any(address.lower().startswith(RCS_PREFIX) for address in addresses):
        return Channel.RCS
    return Channel.SMS


def _twilio_error(outcome: HttpOutcome) -> _Error | None:
    if outcome.response is None:
        return None
    try:
        return _Error.model_validate(json_body(outcome.response))
    except ValidationError:
        return None


def _strip_channel(address: str) -> str:
    prefix, sep, rest = address.partition(":")
    return rest if sep and prefix.isalpha() else address


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
