"""The SMTP gateway keeps its connections open for the next message (aiosmtpd on 127.0.0.1).

Connections are counted by the server: each transaction records the client's address and port,
one pair per connection.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cartback.channels.base import OutgoingMessage, SendResult, SendStatus
from cartback.channels.outbox import OutboxGateway
from cartback.channels.smtp import CHECK_IDLE_AFTER, DROP_IDLE_AFTER
from cartback.clock import FakeClock
from cartback.domain.events import Channel
from cartback.gateways import Gateways
from tests.unit.test_smtp import Recorder, basket_email, gateway, smtp_server


@dataclass
class Counting(Recorder):
    """Counts connections, logins, NOOPs and QUITs; can hang up or answer 421 on cue."""

    peers: list[Any] = field(default_factory=list)  # (host, port) of each transaction
    logins: int = 0
    noops: int = 0
    quits: int = 0
    hang_up_at_mail: int = 0  # hang up instead of answering the next N MAIL commands
    mail_replies: list[str] = field(default_factory=list)  # answered, in turn, to MAIL
    hang_up_after_data: bool = False  # take the message, then hang up before answering
    together: int = 0  # DATA waits until this many transactions are in DATA at once
    arrived: int = 0
    all_here: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.hang_up_at_mail > 0:
            self.hang_up_at_mail -= 1
            server.transport.close()
            return "250 OK"  # never arrives
        if self.mail_replies:
            return self.mail_replies.pop(0)
        self.peers.append(session.peer)
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.together:
            self.arrived += 1
            if self.arrived >= self.together:
                self.all_here.set()
            await asyncio.wait_for(self.all_here.wait(), 5)
        reply = await super().handle_DATA(server, session, envelope)
        if self.hang_up_after_data:
            server.transport.close()
        return reply

    async def handle_NOOP(self, server: Any, session: Any, envelope: Any, arg: str) -> str:
        self.noops += 1
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"

    def connections(self) -> int:
        return len(set(self.peers))


def test_many_messages_go_over_one_connection() -> None:
    handler = Counting()
    with smtp_server(handler) as port:
        smtp = gateway(port)
        results = [smtp.send(basket_email(f"msg{n}")) for n in range(10)]
        smtp.close()

    assert [r.status for r in results] == [SendStatus.SENT] * 10
    assert len(handler.received) == 10
    assert handler.connections() == 1
    assert handler.quits == 1, "the kept connection is closed politely when the gateway closes"


def test_a_connection_the_server_dropped_is_replaced_and_the_message_goes_once() -> None:
    handler = Counting()
    with smtp_server(handler) as port:
        smtp = gateway(port)
        first = smtp.send(basket_email("msg1"))
        handler.hang_up_at_mail = 1  # the server closed the kept connection meanwhile
        second = smtp.send(basket_email("msg2"))

    assert (first.status, second.status) == (SendStatus.SENT, SendStatus.SENT)
    received = [envelope.content for envelope in handler.received]
    assert len(received) == 2 and b"msg2@" in received[1]
    assert handler.connections() == 2


def test_a_421_on_a_kept_connection_is_sent_on_a_new_one() -> None:
    handler = Counting()
    with smtp_server(handler) as port:
        smtp = gateway(port)
        smtp.send(basket_email("msg1"))
        handler.mail_replies = ["421 4.7.0 too many messages on this connection, closing"]
        result = smtp.send(basket_email("msg2"))

    assert result.status == SendStatus.SENT
    assert len(handler.received) == 2
    assert handler.connections() == 2


def test_a_kept_connection_the_server_takes_no_more_on_is_replaced() -> None:
    handler = Counting()
    with smtp_server(handler) as port:
        smtp = gateway(port)
        smtp.send(basket_email("msg1"))
        handler.mail_replies = ["452 4.5.3 too many messages on this connection"]
        result = smtp.send(basket_email("msg2"))
        smtp.send(basket_email("msg3"))

    assert result.status == SendStatus.SENT
    assert len(handler.received) == 3
    assert handler.connections() == 2, "the refusing connection is not kept"


def test_a_temporary_refusal_on_a_new_connection_is_a_retry_for_later() -> None:
    handler = Counting(mail_replies=["451 4.7.1 slow down"])
    with smtp_server(handler) as port:
        result = gateway(port).send(basket_email())

    assert result.status == SendStatus.RETRY
    assert result.error_code == "451"
    assert result.throttled, "4.7.x: the server's policy asks us to slow down"
    assert handler.received == []


def test_a_421_on_a_new_connection_is_a_retry_for_later() -> None:
    handler = Counting(mail_replies=["421 4.7.0 closing"])
    with smtp_server(handler) as port:
        result = gateway(port).send(basket_email())

    assert result.status == SendStatus.RETRY
    assert result.error_code == "421"
    assert result.throttled
    assert handler.received == []


def test_a_temporary_refusal_of_one_mailbox_is_no_reason_to_slow_down() -> None:
    handler = Counting(mail_replies=["450 4.2.1 mailbox busy"])
    with smtp_server(handler) as port:
        result = gateway(port).send(basket_email())

    assert (result.status, result.throttled) == (SendStatus.RETRY, False)


def test_a_drop_after_the_data_went_is_not_sent_again() -> None:
    handler = Counting()
    with smtp_server(handler) as port:
        smtp = gateway(port)
        smtp.send(basket_email("msg1"))
        handler.hang_up_after_data = True  # the server may have the message: ambiguous
        result = smtp.send(basket_email("msg2"))

    assert result.status == SendStatus.RETRY, "the engine decides later, under the same id"
    assert len(handler.received) == 2, "one copy of msg2, none sent on a second connection"
    assert handler.connections() == 1


def test_threads_sending_at_once_use_connections_of_their_own() -> None:
    handler = Counting(together=3)
    with smtp_server(handler) as port:
        smtp = gateway(port, connections=3)
        with ThreadPoolExecutor(3) as threads:
            results = list(threads.map(smtp.send, [basket_email(f"msg{n}") for n in range(3)]))
        again = [smtp.send(basket_email(f"later{n}")) for n in range(3)]

    assert [r.status for r in results + again] == [SendStatus.SENT] * 6
    assert handler.connections() == 3, "three at once, then the kept three are reused"


def test_only_as_many_connections_as_the_concurrency_are_kept() -> None:
    handler = Counting(together=3)
    with smtp_server(handler) as port:
        smtp = gateway(port, connections=1)
        with ThreadPoolExecutor(3) as threads:
            list(threads.map(smtp.send, [basket_email(f"msg{n}") for n in range(3)]))
        kept = len(smtp.pool.idle)

    assert kept == 1
    assert handler.quits == 2, "the others were closed as they came back"


def test_a_new_connection_after_the_cap_of_messages() -> None:
    handler = Counting()
    with smtp_server(handler) as port:
        smtp = gateway(port, messages_per_connection=3)
        results = [smtp.send(basket_email(f"msg{n}")) for n in range(7)]

    assert [r.status for r in results] == [SendStatus.SENT] * 7
    assert handler.connections() == 3  # 3 + 3 + 1
    assert handler.quits == 2


def test_a_connection_idle_for_a_while_is_asked_noop_first() -> None:
    clock = FakeClock()
    handler = Counting()
    with smtp_server(handler) as port:
        smtp = gateway(port, clock=clock)
        smtp.send(basket_email("msg1"))
        smtp.send(basket_email("msg2"))
        clock.advance(CHECK_IDLE_AFTER)
        smtp.send(basket_email("msg3"))

    assert handler.noops == 1
    assert handler.connections() == 1


def test_a_connection_idle_too_long_is_dropped_unasked() -> None:
    clock = FakeClock()
    handler = Counting()
    with smtp_server(handler) as port:
        smtp = gateway(port, clock=clock)
        smtp.send(basket_email("msg1"))
        clock.advance(DROP_IDLE_AFTER + timedelta(seconds=1))
        result = smtp.send(basket_email("msg2"))

    assert result.status == SendStatus.SENT
    assert handler.noops == 0
    assert handler.connections() == 2


def test_a_refused_recipient_leaves_the_connection_usable() -> None:
    handler = Counting()
    with smtp_server(handler) as port:
        smtp = gateway(port)
        handler.rcpt_reply = "550 no such user"
        refused = smtp.send(basket_email("msg1"))
        handler.rcpt_reply = None
        sent = smtp.send(basket_email("msg2"))

    assert (refused.status, sent.status) == (SendStatus.FAILED, SendStatus.SENT)
    assert not refused.throttled, "a refused recipient says nothing of the pace"
    assert len(set(handler.peers)) == 1
    assert len(handler.received) == 1


class Closable:
    """A gateway that counts how often it was closed."""

    name = "closable"

    def __init__(self) -> None:
        self.closed = 0

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(SendStatus.SENT)

    def close(self) -> None:
        self.closed += 1


def test_shutdown_closes_each_gateway_once_a_stores_own_too() -> None:
    shared, own = Closable(), Closable()
    outbox = OutboxGateway("unused.jsonl", FakeClock())  # nothing to close
    gateways = Gateways(
        by_channel={Channel.SMS: shared, Channel.RCS: shared, Channel.EMAIL: outbox},
        more=[shared, own],
    )

    gateways.close()

    assert (shared.closed, own.closed) == (1, 1)


def test_a_connection_in_use_when_the_gateway_closes_is_closed_when_it_comes_back() -> None:
    handler = Counting()
    with smtp_server(handler) as port:
        smtp = gateway(port)
        kept = smtp.pool.take()
        smtp.close()
        smtp.pool.give_back(kept)

    assert smtp.pool.idle == []
    assert handler.quits == 1
