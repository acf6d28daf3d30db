"""The one seam to every gateway: `send(OutgoingMessage) -> SendResult`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from cartback.domain.events import Channel


class SendStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    id: str  # ours, passed to the gateway as its idempotency key
    channel: Channel
    to: str
    sender: str | None
    text: str
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    status: SendStatus
    sent_at: datetime | None = None
    provider_message_id: str | None = None
    error: str | None = None
    retryable: bool = False


class Gateway(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...
