"""Email through any SMTP server: one attempt per `send`, the engine does the retrying.

Connections are kept open for the next message (`smtp_pool.py`). A kept connection the server
closed meanwhile (a drop, a 421) or will take no more on (a temporary refusal of MAIL) is
replaced once, within the same `send`, but only when the failure came before the server
accepted DATA: nothing of the message had reached it.
The Message-ID is made from our message id, so a resend after an ambiguous failure (the
connection dropped after the data was sent) carries the same Message-ID and can be recognised.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from dataclasses import replace
from datetime import timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr
from typing import Literal

from cartback.channels.base import OutgoingMessage, SendResult, SendStatus
from cartback.channels.smtp_pool import Kept, SmtpPool, Watched, WatchedTls
from cartback.clock import Clock
from cartback.domain.events import Channel
from cartback.domain.redact import mask_email

log = logging.getLogger("cartback.smtp")

Security = Literal["none", "starttls", "tls"]

_ONE_CLICK = "List-Unsubscribe=One-Click"
_EMAIL_LIKE = re.compile(r"[^\s<>()\[\]:;,\"']+@[^\s<>()\[\]:;,\"']+")
_MESSAGE_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]")
_CLOSING = 421  # "service not available, closing transmission channel"

# SMTP servers publish no common throughput: these are ours, for a mail server or relay that
# says nothing else. `concurrency` / `rate_limit` in the email channel's config override them.
SMTP_CONCURRENCY = 4  # connections at once; servers cap connections per client (often 10-20)
SMTP_RATE: float | None = None  # messages/s; a relay with a quota answers 4xx past it
# Messages on one connection before it is closed and another opened. Servers cap it (Exchange's
# MaxMessagesPerConnection, KumoMTA's max_messages_per_connection) and answer MAIL with a
# temporary refusal past the cap; such a refusal on a kept connection moves the message to a
# fresh one, so a server whose cap is lower than this costs one refusal per connection.
MESSAGES_PER_CONNECTION = 100
CHECK_IDLE_AFTER = timedelta(seconds=5)  # idle longer: NOOP before reusing it
# Idle longer: dropped unasked. RFC 5321 4.5.3.2.7: a server waits at least 5 minutes for the
# next command, so a connection idle for less than that should still be open.
DROP_IDLE_AFTER = timedelta(minutes=4)


class _SmtpPolicy(EmailPolicy):
    """Folds List-Unsubscribe between its URIs, never inside one.

    The default folder turns a URI longer than a line into RFC 2047 encoded-words, which no
    mail client reads as a link: the unsubscribe button would silently disappear.
    """

    def fold(self, name: str, value: str) -> str:
        verbatim = _fold_uri_list(name, value, self.linesep)
        return super().fold(name, value) if verbatim is None else verbatim

    def fold_binary(self, name: str, value: str) -> bytes:
        verbatim = _fold_uri_list(name, value, self.linesep)
        return super().fold_binary(name, value) if verbatim is None else verbatim.encode()


_POLICY = _SmtpPolicy()


class _Refused(Exception):
    """An SMTP reply we cannot send past, with its code and (redacted) text."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


class SmtpGateway:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Security = "starttls",
        username: str | None,
        password: str | None,
        from_address: str,
        clock: Clock,
        timeout: float = 20.0,
        ssl_context: ssl.SSLContext | None = None,
        connections: int = SMTP_CONCURRENCY,
        messages_per_connection: int = MESSAGES_PER_CONNECTION,
    ) -> None:
        display_name, addr_spec = parseaddr(from_address)
        if "@" not in addr_spec:
            raise ValueError(f"from_address {mask_email(from_address)!r} is not an email address")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.from_address = addr_spec
        self.from_name = display_name
        self.clock = clock
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.pool = SmtpPool(
            self._connect,
            clock,
            keep=connections,
            per_connection=messages_per_connection,
            check_after=CHECK_IDLE_AFTER,
            drop_after=DROP_IDLE_AFTER,
        )

    def close(self) -> None:
        """QUIT the connections kept open (`serve` or `worker` stops)."""
        self.pool.close()

    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            email = self.build(message)
        except ValueError as exc:
            return self._failed(message, f"message cannot be built: {_redact(str(exc))}", None)
        result = self._deliver(message, email)
        if result.status == SendStatus.SENT:
            log.info("email sent", extra=self._log_extra(message))
        return result

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The email as it goes on the wire (public so the HTML can be previewed)."""
        email = EmailMessage(policy=_POLICY)
        email["Subject"] = " ".join((message.subject or "").split())
        email["From"] = Address(message.sender or self.from_name, addr_spec=self.from_address)
        email["To"] = Address(addr_spec=message.to.strip())
        email["Date"] = format_datetime(self.clock.now())
        email["Message-ID"] = self.message_id(message.id)
        for name, value in _unsubscribe_headers(message).items():
            email[name] = value
        email.set_content(message.text)
        if message.rich is not None and message.rich.html:
            email.add_alternative(message.rich.html, subtype="html")
        return email

    def message_id(self, our_id: str) -> str:
        domain = self.from_address.rpartition("@")[2]
        return f"<{_MESSAGE_ID_UNSAFE.sub('-', our_id)}@{domain}>"

    def _deliver(self, message: OutgoingMessage, email: EmailMessage) -> SendResult:
        try:
            self._transmit(email, message.to.strip())
        except _Refused as exc:
            status = SendStatus.FAILED if 500 <= exc.code < 600 else SendStatus.RETRY
            result = self._outcome(message, status, f"server replied {exc}", str(exc.code))
            return replace(result, slow_down=_throttling(exc))
        except ssl.SSLCertVerificationError as exc:
            return self._failed(message, f"TLS certificate not trusted: {exc.verify_message}", None)
        except smtplib.SMTPNotSupportedError as exc:
            return self._failed(message, f"server does not support it: {exc}", None)
        except smtplib.SMTPServerDisconnected as exc:
            return self._retry(message, f"server disconnected: {_redact(str(exc))}")
        except smtplib.SMTPException as exc:
            return self._failed(message, f"SMTP error: {_redact(str(exc))}", None)
        except OSError as exc:  # refused, timed out, unreachable, TLS handshake
            return self._retry(message, f"cannot reach {self.host}:{self.port}: {exc!r}")
        return SendResult(
            SendStatus.SENT,
            sent_at=self.clock.now(),
            provider_message_id=str(email["Message-ID"]),
            channel_used=Channel.EMAIL,
        )

    def _transmit(self, email: EmailMessage, to: str) -> None:
        try:
            self._send_on_pool(email, to)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (-1, b""))
            raise _Refused(code, _reply_text(text)) from None
        except smtplib.SMTPResponseException as exc:
            raise _Refused(exc.smtp_code, _reply_text(exc.smtp_error)) from None

    def _send_on_pool(self, email: EmailMessage, to: str) -> None:
        """On a kept connection; once more on a fresh one if the kept one was spent before the
        server accepted DATA (so the message cannot arrive twice)."""
        kept = self.pool.take()
        try:
            self._transact(kept, email, to)
        except Exception as exc:
            if not (kept.reused and not kept.smtp.data_accepted and _connection_spent(exc)):
                raise
            log.info("smtp connection spent (%s); sending on a new one", type(exc).__name__)
            self._transact(self.pool.fresh(), email, to)

    def _transact(self, kept: Kept, email: EmailMessage, to: str) -> None:
        """One MAIL..DATA on `kept`; it goes back to the pool unless it is no longer usable."""
        smtp = kept.smtp
        smtp.data_accepted = False
        try:
            smtp.send_message(email, from_addr=self.from_address, to_addrs=[to])
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
            if _connection_spent(exc) or not _reset(smtp):
                smtp.close()
            else:
                self.pool.give_back(kept)  # refused, but the connection is fine
            raise
        except BaseException:
            smtp.close()  # no QUIT: it could wait out the timeout a second time
            raise
        self.pool.give_back(kept)

    def _connect(self) -> Watched:
        context = self.ssl_context or ssl.create_default_context()
        smtp: Watched
        if self.security == "tls":
            smtp = WatchedTls(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = Watched(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.ehlo()
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username is not None:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _retry(self, message: OutgoingMessage, error: str) -> SendResult:
        return self._outcome(message, SendStatus.RETRY, error, None)

    def _failed(self, message: OutgoingMessage, error: str, code: str | None) -> SendResult:
        return self._outcome(message, SendStatus.FAILED, error, code)

    def _outcome(
        self, message: OutgoingMessage, status: SendStatus, error: str, code: str | None
    ) -> SendResult:
        extra = {**self._log_extra(message), "error": error, "error_code": code}
        log.warning("email %s", status, extra=extra)
        return SendResult(status, error=error, error_code=code, http_status=None)

    def _log_extra(self, message: OutgoingMessage) -> dict[str, str | None]:
        return {"message_id": message.id, "to": mask_email(message.to), "gateway": self.name}


def _unsubscribe_headers(message: OutgoingMessage) -> dict[str, str]:
    rich = message.rich
    if rich is None:
        return {}
    url = rich.unsubscribe_url or ""
    targets = [f"<{url}>"] if url.startswith(("https://", "http://")) else []
    if rich.unsubscribe_mailto:
        targets.append(f"<{_mailto(rich.unsubscribe_mailto)}>")
    headers = {"List-Unsubscribe": ", ".join(targets)} if targets else {}
    if url.startswith("https://"):  # RFC 8058: one-click needs an https URI to POST to
        headers["List-Unsubscribe-Post"] = _ONE_CLICK
    return headers


def _fold_uri_list(name: str, value: str, linesep: str) -> str | None:
    text = str(value)
    if name.lower() != "list-unsubscribe" or not text.isascii() or len(text) > 900:
        return None
    return f"{name}: " + text.replace(">, <", f">,{linesep} <") + linesep


def _mailto(target: str) -> str:
    uri = target if target.startswith("mailto:") else f"mailto:{target}"
    return uri if "?" in uri else f"{uri}?subject=unsubscribe"


def _reply_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return _redact(" ".join(text.split()))


def _redact(text: str) -> str:
    """Servers echo addresses back ("550 <alice@example.com>: no such user"); mask them."""
    return _EMAIL_LIKE.sub(lambda match: mask_email(match.group(0)), text)


def _connection_spent(exc: BaseException) -> bool:
    """The connection, not the message, failed: the server hung up, said it is closing (421),
    or refused MAIL for now (4xx, as servers do once a connection carried their limit)."""
    if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code == _CLOSING for code, _text in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == _CLOSING


def _throttling(refused: _Refused) -> bool:
    """A temporary refusal that asks us to slow down: 421 (the server closes: busy, or too many
    from us), or an enhanced status of policy, 4.7.x (RFC 3463; e.g. "4.7.0 try again later",
    "4.7.28 rate limited"). The pacer halves this sender's pace on it (engine/pacing.py)."""
    if not 400 <= refused.code < 500:
        return False
    return refused.code == _CLOSING or refused.text.lstrip().startswith("4.7.")


def _reset(smtp: smtplib.SMTP) -> bool:
    """RSET after a refusal, so the next message starts a clean transaction; False if it fails."""
    try:
        code, _text = smtp.rset()
    except (smtplib.SMTPException, OSError):
        return False
    return code == 250
