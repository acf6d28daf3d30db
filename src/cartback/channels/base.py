"""The one seam to every gateway: `send(OutgoingMessage) -> SendResult`.

Gateways that report back (delivery reports, inbound replies) turn the vendor's shapes into
`StatusReport` and `InboundMessage`; the engine applies those without knowing the vendor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from cartback.domain.events import Channel

# A delivery report speaks of the stored message's own states.
from cartback.domain.statuses import MessageStatus as MessageStatus

TOO_MANY_REQUESTS = 429  # HTTP: the gateway throttles us


class SendStatus(StrEnum):
    SENT = "sent"  # accepted by the gateway
    FAILED = "failed"  # refused for good (4xx, invalid number, opted out)
    RETRY = "retry"  # not accepted this time (timeout, connection error, 5xx); try again
    SKIPPED = "skipped"  # the gateway declined by its own rule (e.g. its cooldown); not a failure


@dataclass(frozen=True, slots=True)
class LineItemView:
    title: str
    quantity: int
    price: Decimal
    currency: str
    image_url: str | None = None


@dataclass(frozen=True, slots=True)
class RichContent:
    """What an RCS card or an HTML email can show beyond the text."""

    title: str | None = None
    image_url: str | None = None
    button_text: str | None = None
    button_url: str | None = None
    html: str | None = None
    items: tuple[LineItemView, ...] = ()
    unsubscribe_url: str | None = None  # email: the one-click List-Unsubscribe URL
    unsubscribe_mailto: str | None = None


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    id: str  # ours, passed to the gateway as its idempotency key
    channel: Channel
    to: str  # E.164 for sms/rcs, an address for email
    sender: str | None
    text: str
    subject: str | None = None
    country: str | None = None  # ISO alpha-2 of the recipient, where known (inMobile countryHint)
    rich: RichContent | None = None
    fallback_text: str | None = None  # rcs: the SMS text used where RCS does not reach


@dataclass(frozen=True, slots=True)
class SendResult:
    status: SendStatus
    sent_at: datetime | None = None
    provider_message_id: str | None = None
    error: str | None = None
    error_code: str | None = None
    http_status: int | None = None
    provider_segments: int | None = None  # the gateway's own count (inMobile smsCount)
    suppress: bool = False  # the gateway says the recipient opted out: suppress the number
    channel_used: Channel | None = None  # rcs that went out as sms, where known at send time
    slow_down: bool = False  # the gateway said "too many" in its own words (an SMTP 421, 4.7.x)

    @property
    def retryable(self) -> bool:
        return self.status == SendStatus.RETRY

    @property
    def throttled(self) -> bool:
        """The gateway asks us to send slower: an HTTP 429 (Twilio's 20429, inMobile's), or its
        own words for it. The sender's pace halves (engine/pacing.py)."""
        return self.slow_down or self.http_status == TOO_MANY_REQUESTS


class Gateway(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A delivery report from a gateway, in our terms."""

    provider: str
    status: MessageStatus
    at: datetime
    message_id: str | None = None  # ours, where the gateway echoes it
    provider_message_id: str | None = None
    error_code: str | None = None
    error: str | None = None
    suppress: bool = False  # e.g. inMobile -105 (blacklisted), Twilio 21610 (opted out)
    channel_used: Channel | None = None  # rcs delivered as sms, when the report says so
    provider_segments: int | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A reply from a recipient (STOP, START, ...)."""

    provider: str
    provider_id: str  # the gateway's id for the inbound message, for deduplication
    sender: str  # E.164 of the person who wrote
    recipient: str | None  # our number or sender name
    text: str
    received_at: datetime


class InboundSource(Protocol):
    """A gateway the worker polls for replies (inMobile); webhook gateways don't implement it."""

    name: str

    def fetch_inbound(self) -> Sequence[InboundMessage]: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at the gateway, kept as a row."""

    number: int
    started_at: datetime
    duration_ms: int
    outcome: SendStatus
    http_status: int | None = None
    error: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
