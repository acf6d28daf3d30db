"""The development provider: every message becomes one JSON line in a file, nothing leaves the host.

Sending the same message id twice writes it once, as a real gateway's idempotency would, also
when the second send comes from another process: a worker killed right after writing a line
leaves its message to be resent by another worker once the lease runs out. Each send takes an
exclusive lock on the file (POSIX `flock`), reads what other processes appended since its last
look, and appends only an id it has not seen.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per outbox file
    fcntl = None  # type: ignore[assignment]

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
        self._seen: set[str] = set()
        self._read_up_to = 0  # bytes of the file already read into `_seen`

    def send(self, message: OutgoingMessage) -> SendResult:
        with self._lock, self._locked_file() as handle:
            self._read_new_lines(handle)
            sent_at = self.clock.now()
            if message.id not in self._seen:
                self._append(handle, message, sent_at.isoformat())
                self._seen.add(message.id)
            self._read_up_to = handle.tell()
        if self.echo:
            self._print(message)
        return SendResult(
            SendStatus.SENT,
            sent_at=sent_at,
            provider_message_id=message.id,
            channel_used=message.channel,
        )

    @contextlib.contextmanager
    def _locked_file(self) -> Iterator[IO[bytes]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the file closes
            yield handle

    def _read_new_lines(self, handle: IO[bytes]) -> None:
        """Add the ids of lines appended since the last look (by any process)."""
        handle.seek(0, 2)
        if handle.tell() < self._read_up_to:  # the file was truncated or replaced
            self._seen, self._read_up_to = set(), 0
        handle.seek(self._read_up_to)
        for line in handle.read().splitlines():
            if line.strip():
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    self._seen.add(json.loads(line)["message_id"])
        handle.seek(0, 2)

    def _append(self, handle: IO[bytes], message: OutgoingMessage, sent_at: str) -> None:
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
        handle.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
        handle.flush()

    def _print(self, message: OutgoingMessage) -> None:
        to = mask_email(message.to) if "@" in message.to else mask_phone(message.to)
        print(f"[outbox] {message.channel} to {to}: {message.text}", flush=True)
