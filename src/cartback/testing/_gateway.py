"""A gateway that sends nothing and remembers everything."""

from __future__ import annotations

import threading
from collections.abc import Callable

from cartback.channels.base import OutgoingMessage, SendResult, SendStatus
from cartback.clock import Clock


class FakeGateway:
    """Records every message it is asked to send; answers with `respond` (default: sent)."""

    def __init__(
        self,
        clock: Clock,
        name: str = "fake",
        respond: Callable[[OutgoingMessage], SendResult] | None = None,
    ) -> None:
        self.clock = clock
        self.name = name
        self.respond = respond
        self.sent: list[OutgoingMessage] = []
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SendResult:
        with self._lock:
            self.sent.append(message)
        if self.respond is not None:
            return self.respond(message)
        return SendResult(
            SendStatus.SENT, sent_at=self.clock.now(), provider_message_id=f"fake-{message.id}"
        )

    def texts(self) -> list[str]:
        with self._lock:
            return [m.text for m in self.sent]
