"""Open SMTP connections kept for the next message, so a batch of emails pays for one handshake.

Opening a connection costs TCP, the greeting, EHLO, STARTTLS (a TLS handshake), EHLO again and
AUTH: several round trips before the first MAIL FROM. The pool keeps up to `keep` idle
connections (the gateway's concurrency); a thread takes one, uses it alone, and gives it back.
A connection idle for a while is asked `NOOP` before it is used again, one idle for longer than
a server waits for its next command is dropped unasked, and one that carried
`per_connection` messages is closed politely (many servers refuse more on one connection).
"""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cartback.clock import Clock

DATA_ACCEPTED = 354  # "start mail input": from here on the server may have the message


class Watched(smtplib.SMTP):
    """An SMTP connection that notes when the server accepted DATA.

    Before that reply nothing of the message reached the server, so a failure can be tried
    again on another connection without ever sending it twice; after it, it cannot.
    """

    data_accepted = False

    def getreply(self) -> tuple[int, bytes]:
        code, text = super().getreply()
        if code == DATA_ACCEPTED:
            self.data_accepted = True
        return code, text


class WatchedTls(smtplib.SMTP_SSL, Watched):
    """The same over implicit TLS (port 465)."""


@dataclass
class Kept:
    """A connection and what the pool knows of it."""

    smtp: Watched
    last_used: datetime
    messages: int = 0
    reused: bool = False


class SmtpPool:
    def __init__(
        self,
        connect: Callable[[], Watched],
        clock: Clock,
        *,
        keep: int,
        per_connection: int,
        check_after: timedelta,
        drop_after: timedelta,
    ) -> None:
        self.connect = connect
        self.clock = clock
        self.keep = keep
        self.per_connection = per_connection
        self.check_after = check_after
        self.drop_after = drop_after
        self.idle: list[Kept] = []
        self.closed = False
        self.lock = threading.Lock()

    def take(self) -> Kept:
        """An idle connection that still answers, else a new one (which may raise)."""
        while (kept := self._pop()) is not None:
            if self._usable(kept):
                kept.reused = True
                return kept
            kept.smtp.close()
        return self.fresh()

    def fresh(self) -> Kept:
        return Kept(self.connect(), self.clock.now())

    def give_back(self, kept: Kept) -> None:
        """After a transaction: keep it for the next message, or say goodbye."""
        kept.messages += 1
        kept.last_used = self.clock.now()
        if kept.messages < self.per_connection:
            with self.lock:
                if not self.closed and len(self.idle) < self.keep:
                    self.idle.append(kept)
                    return
        quit_quietly(kept.smtp)

    def close(self) -> None:
        """QUIT every idle connection; one in use is closed when it is given back."""
        with self.lock:
            self.closed = True
            idle, self.idle = self.idle, []
        for kept in idle:
            quit_quietly(kept.smtp)

    def _pop(self) -> Kept | None:
        with self.lock:
            return self.idle.pop() if self.idle else None  # the most recently used first

    def _usable(self, kept: Kept) -> bool:
        idle = self.clock.now() - kept.last_used
        if idle >= self.drop_after:
            return False  # the server has likely hung up; asking would wait for nothing
        if idle < self.check_after:
            return True
        try:
            code, _text = kept.smtp.noop()
        except (smtplib.SMTPException, OSError):
            return False
        return code == 250


def quit_quietly(smtp: smtplib.SMTP) -> None:
    """QUIT, ignoring failures: once the server accepted the data, the message is sent."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
