"""The development provider: every message becomes one JSON line in a file, nothing leaves the host.

Sending the same message id twice writes it once, as a real gateway's idempotency would.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from cartback.channels.base import OutgoingMessage, SendResult, SendStatus
from cartback.clock import Clock
from cartback.domain.redact import mask_email, mask_phone

log = logging.getLogger("cartback.outbox")


class OutboxGateway:
    name = "outbox"

    def __init__(self, path: str | Path, clock: Clock, *, echo: bool = False) -> None:
        self.path = Path(path)
        self.clock = clock
        self.echo = echo
        self._lock = threading.Lock()
        self._seen: set[str] | None = None

    def send(self, message: OutgoingMessage) -> SendResult:
        with self._lock:
            seen = self._load_seen()
            sent_at = self.clock.now()
            if message.id not in seen:
                self._append(message, sent_at.isoformat())
                seen.add(message.id)
        if self.echo:
            self._print(message)
        return SendResult(
            SendStatus.SENT,
            sent_at=sent_at,
            provider_message_id=message.id,
            channel_used=message.channel,
        )

    def _load_seen(self) -> set[str]:
        if self._seen is None:
            self._seen = set()
            if self.path.exists():
                for line in self.path.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        self._seen.add(json.loads(line)["message_id"])
        return self._seen

    def _append(self, message: OutgoingMessage, sent_at: str) -> None:
        line = {
            "message_id": message.id,
            "channel": str(message.channel),
            "to": message.to,
            "from": message.sender,
            "text": message.text,
            "sent_at": sent_at,
        }
        if message.subject is not None:
            line["subject"] = message.subject
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            handle.flush()

    def _print(self, message: OutgoingMessage) -> None:
        to = mask_email(message.to) if "@" in message.to else mask_phone(message.to)
        print(f"[outbox] {message.channel} to {to}: {message.text}", flush=True)
