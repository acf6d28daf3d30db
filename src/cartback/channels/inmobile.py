"""inMobile (https://api.inmobile.com, REST API v4): SMS out, delivery reports in, replies polled.

Shapes follow inMobile's v4 OpenAPI document and its official .NET and PHP clients:

- `POST /v4/sms/outgoing` with `{"messages": [...]}`; HTTP Basic auth with any user name and the
  API key as the password. `to` is the MSISDN as digits with the country code (`4512345678`).
  `messageId` is ours (at most 50 characters, unique per account). The answer is
  `{"results": [{"numberDetails", "text", "from", "smsCount", "messageId", "encoding"}]}`;
  errors are `{"errorMessage", "details": [...]}`.
- The status callback POSTs `{"reports": [{"messageId", "numberDetails", "deliveryInfo":
  {"stateCode", "stateDescription", "sendTime", "doneTime", "errorCode", "errorDescription"},
  "chargeInfo": {"isCharged", "smsCount", "encoding"}}]}`. stateCode: 1 delivered, -1 failed,
  -2 cancelled, 0 unknown. errorCode -105: blacklisted on the account; -106: number cooldown.
- `GET /v4/sms/incoming/messages?limit=N` (1..250) returns each unread reply once:
  `{"messages": [{"from": {"countryCode", "phoneNumber", "rawSource", "isValidMsisdn"},
  "to": {"countryCode", "phoneNumber", "msisdn"}, "text", "receivedAt"}]}` and no message id.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from cartback.channels._http import (
    GatewayAnswerError,
    GatewayUnavailable,
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

log = logging.getLogger("cartback.channels.inmobile")

DEFAULT_BASE_URL = "https://api.inmobile.com"
OUTGOING_PATH = "/v4/sms/outgoing"
INCOMING_PATH = "/v4/sms/incoming/messages"
INBOUND_BATCH = 250  # the API's maximum `limit`

# inMobile's pace, for when the channel's config sets none. Its v4 API reference (the OpenAPI
# document at api.inmobile.com) gives `POST /v4/sms/outgoing` no rate limit and documents no 429
# (only 200, 400, 401 and 500), so there is no per-sender rate to keep by default: calls in flight
# stay few, and a 429, should one come, is retried and slows that sender down like any other.
INMOBILE_CONCURRENCY = 8
INMOBILE_RATE: float | None = None

STATE_DELIVERED = 1
STATE_UNKNOWN = 0
STATE_FAILED = -1
STATE_CANCELLED = -2
ERROR_BLACKLISTED_ON_ACCOUNT = -105
ERROR_NUMBER_COOLDOWN = -106
# Failed after the operator had the message: it was sent, it did not arrive.
_UNDELIVERED_ERRORS = frozenset({-1, -5, -6, -23})


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class _NumberDetails(_Model):
    country_code: str | None = None
    phone_number: str | None = None
    msisdn: str | None = None
    is_valid_msisdn: bool | None = None


class _SendResultItem(_Model):
    message_id: str
    sms_count: int | None = None
    encoding: str | None = None
    number_details: _NumberDetails | None = None


class _SendReply(_Model):
    results: list[_SendResultItem]


class _ApiError(_Model):
    error_message: str | None = None
    details: list[str] = Field(default_factory=list)


class _DeliveryInfo(_Model):
    state_code: int
    state_description: str | None = None
    send_time: str | None = None
    done_time: str | None = None
    error_code: int | None = None
    error_description: str | None = None


class _ChargeInfo(_Model):
    is_charged: bool | None = None
    sms_count: int | None = None


class _Report(_Model):
    message_id: str
    delivery_info: _DeliveryInfo
    charge_info: _ChargeInfo | None = None


class _ReportList(_Model):
    reports: list[_Report]


class _Sender(_Model):
    country_code: str | None = None
    phone_number: str | None = None
    raw_source: str | None = None
    is_valid_msisdn: bool = False


class _Target(_Model):
    msisdn: str | None = None


class _Incoming(_Model):
    sender: _Sender = Field(alias="from")
    to: _Target | None = None
    text: str = ""
    received_at: str


class _IncomingList(_Model):
    messages: list[_Incoming]


class InMobileGateway:
    name = "inmobile"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        status_callback_url: str | None,
        clock: Clock,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.status_callback_url = status_callback_url
        self.clock = clock
        # inMobile ignores the user name; the key is the password.
        auth = httpx.BasicAuth("cartback", api_key)
        self._client = make_client(timeout=timeout, transport=transport, auth=auth)

    def close(self) -> None:
        self._client.close()

    # -- sending ---------------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> SendResult:
        if not message.sender:
            return SendResult(
                SendStatus.FAILED,
                error="inMobile needs a sender (3-11 characters or a number up to 14 digits)",
                error_code="no_sender",
            )
        request = self._client.build_request(
            "POST", self.base_url + OUTGOING_PATH, json={"messages": [self._payload(message)]}
        )
        outcome = perform(self._client, request)
        if outcome.status == SendStatus.SENT:
            return self._accepted(message, outcome)
        return self._refused(message, outcome)

    def _payload(self, message: OutgoingMessage) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "to": msisdn(message.to),
            "text": message.text,
            "from": message.sender,
            "messageId": message.id,
            "respectBlacklist": True,
            "encoding": "auto",
        }
        if message.country:
            payload["countryHint"] = message.country
        if self.status_callback_url:
            payload["statusCallbackUrl"] = self.status_callback_url
        return payload

    def _accepted(self, message: OutgoingMessage, outcome: HttpOutcome) -> SendResult:
        body = json_body(outcome.response) if outcome.response is not None else None
        try:
            item = _SendReply.model_validate(body).results[0]
        except (ValidationError, IndexError):
            # Accepted but unreadable: the message id is ours, so the row can still be matched.
            log.warning(
                "inmobile accepted a message with an unreadable answer",
                extra={"message_id": message.id},
            )
            return self._sent(message, outcome, provider_id=message.id, segments=None)
        details = item.number_details
        if details is not None and details.is_valid_msisdn is False:
            return SendResult(
                SendStatus.FAILED,
                provider_message_id=item.message_id,
                error="inMobile says the recipient number is not valid",
                error_code="invalid_msisdn",
                http_status=outcome.http_status,
            )
        return self._sent(message, outcome, provider_id=item.message_id, segments=item.sms_count)

    def _sent(
        self,
        message: OutgoingMessage,
        outcome: HttpOutcome,
        *,
        provider_id: str,
        segments: int | None,
    ) -> SendResult:
        return SendResult(
            SendStatus.SENT,
            sent_at=self.clock.now(),
            provider_message_id=provider_id,
            http_status=outcome.http_status,
            provider_segments=segments,
            channel_used=Channel.SMS,
        )

    def _refused(self, message: OutgoingMessage, outcome: HttpOutcome) -> SendResult:
        reason = _vendor_reason(outcome) or outcome.error
        log.info(
            "inmobile did not take the message",
            extra={
                "message_id": message.id,
                "outcome": str(outcome.status),
                "http_status": outcome.http_status,
                "to": mask_phone(message.to),
            },
        )
        return SendResult(
            outcome.status,
            error=reason,
            error_code=f"http_{outcome.http_status}" if outcome.http_status else None,
            http_status=outcome.http_status,
        )

    # -- delivery reports ------------------------------------------------------------------

    def parse_status_reports(self, body: bytes) -> list[StatusReport]:
        """The status callback's JSON body as reports; raises GatewayAnswerError if unreadable."""
        try:
            parsed = _ReportList.model_validate_json(body)
        except ValidationError:
            raise GatewayAnswerError("inMobile status callback has an unexpected shape") from None
        return [self._report(item) for item in parsed.reports]

    def _report(self, item: _Report) -> StatusReport:
        info = item.delivery_info
        status, suppress = report_status(info.state_code, info.error_code)
        at = _instant(info.done_time) or _instant(info.send_time) or self.clock.now()
        return StatusReport(
            provider=self.name,
            status=status,
            at=at,
            message_id=item.message_id,
            provider_message_id=item.message_id,
            error_code=str(info.error_code) if info.error_code is not None else None,
            error=scrub_numbers(info.error_description) if info.error_description else None,
            suppress=suppress,
            channel_used=Channel.SMS,
            provider_segments=item.charge_info.sms_count if item.charge_info else None,
        )

    # -- inbound ---------------------------------------------------------------------------

    def fetch_inbound(self) -> Sequence[InboundMessage]:
        """Unread replies; inMobile hands each one out once, so the caller must store them."""
        request = self._client.build_request(
            "GET", self.base_url + INCOMING_PATH, params={"limit": INBOUND_BATCH}
        )
        outcome = perform(self._client, request)
        if outcome.status != SendStatus.SENT or outcome.response is None:
            raise GatewayUnavailable(f"inMobile inbound poll failed: {outcome.error}")
        try:
            listing = _IncomingList.model_validate(json_body(outcome.response))
        except ValidationError:
            raise GatewayAnswerError("inMobile inbound answer has an unexpected shape") from None
        inbound = (self._inbound(item) for item in listing.messages)
        return [message for message in inbound if message is not None]

    def _inbound(self, item: _Incoming) -> InboundMessage | None:
        sender = _sender_e164(item.sender)
        if sender is None:
            log.info("inmobile inbound message without a usable sender number skipped")
            return None
        recipient = item.to.msisdn if item.to else None
        return InboundMessage(
            provider=self.name,
            provider_id=inbound_id(sender, item.received_at, item.text, recipient),
            sender=sender,
            recipient=recipient,
            text=item.text,
            received_at=_instant(item.received_at) or self.clock.now(),
        )


def msisdn(e164: str) -> str:
    """`+4512345678` -> `4512345678`, the form inMobile documents for `to`."""
    return "".join(char for char in e164 if char.isdigit())


def report_status(state_code: int, error_code: int | None) -> tuple[MessageStatus, bool]:
    """(status, suppress) for an inMobile stateCode and errorCode."""
    if error_code == ERROR_NUMBER_COOLDOWN:
        return MessageStatus.SKIPPED, False
    if error_code == ERROR_BLACKLISTED_ON_ACCOUNT:
        return MessageStatus.FAILED, True
    if state_code == STATE_DELIVERED:
        return MessageStatus.DELIVERED, False
    if state_code == STATE_FAILED and error_code in _UNDELIVERED_ERRORS:
        return MessageStatus.UNDELIVERED, False
    if state_code in (STATE_FAILED, STATE_CANCELLED):
        return MessageStatus.FAILED, False
    return MessageStatus.SENT, False


def inbound_id(sender: str, received_at: str, text: str, recipient: str | None) -> str:
    """A stable id for a reply, which inMobile does not give: the same reply, the same id."""
    digest = hashlib.sha256("\x1f".join((sender, received_at, text, recipient or "")).encode())
    return "inm-" + digest.hexdigest()[:32]


def _sender_e164(sender: _Sender) -> str | None:
    if not sender.is_valid_msisdn or not sender.country_code or not sender.phone_number:
        return None
    try:
        return normalize_phone(f"+{sender.country_code}{sender.phone_number}", None)
    except InvalidPhone:
        return None


def _vendor_reason(outcome: HttpOutcome) -> str | None:
    if outcome.response is None:
        return None
    try:
        error = _ApiError.model_validate(json_body(outcome.response))
    except ValidationError:
        return None
    parts = [error.error_message or "", *error.details]
    text = "; ".join(part for part in parts if part)
    return scrub_numbers(f"inMobile: {text}") if text else None


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # inMobile documents these times as UTC
    return parsed.astimezone(UTC)
