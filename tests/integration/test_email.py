"""Email through the engine to a real SMTP server (aiosmtpd on 127.0.0.1), on a fake clock.

The SMTP server answers as it is told: accept, or refuse one command with a temporary (451) or
permanent (550) reply. What arrives is parsed the way a mail client would read it.
"""

from __future__ import annotations

import re
import socket
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select

from cartback.api.app import create_app
from cartback.channels.unsubscribe import key_from, make_token
from cartback.clock import FakeClock
from cartback.config import load_config
from cartback.domain.events import Channel
from cartback.runtime import build
from cartback.store.tables import consent_ledger, message_attempts, suppressions
from cartback.testing import FakeGateway
from tests.integration.conftest import CONFIG, DOMAIN, SECRET, START, TOKEN, Shop

SHOP_ADDRESS = "shop@acme.example"
LINE_ITEM = "IPod Nano - 8GB"  # in Shopify's sample checkout

# The shared store, with email (over a local SMTP server) as the only channel and step.
EMAIL_CONFIG = (
    CONFIG.split("channels:")[0]
    + """channels:
  email:
    provider: smtp
    host: 127.0.0.1
    port: {smtp_port}
    security: none
    from: "{sender}"
    max_attempts: 3
    retry_backoff: 1m
    timeout: 5s
policy:
  quiet_hours: {{start: "21:00", end: "09:00"}}
  cooldown: 72h
flows:
  - id: cart-email
    store: acme
    abandon_after: 30m
    steps:
      - send: email
"""
)


@dataclass
class Mailbox:
    """An aiosmtpd handler: keeps what it accepts, and refuses on cue (one reply per command)."""

    received: list[bytes] = field(default_factory=list)
    data_seen: list[bytes] = field(default_factory=list)  # every DATA, accepted or refused
    refuse_rcpt: deque[str] = field(default_factory=deque)
    refuse_data: deque[str] = field(default_factory=deque)

    async def handle_RCPT(
        self, server: object, session: object, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt.popleft()
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        content = bytes(envelope.content)
        self.data_seen.append(content)
        if self.refuse_data:
            return self.refuse_data.popleft()
        self.received.append(content)
        return "250 2.0.0 OK"


@dataclass
class MailShop(Shop):
    mailbox: Mailbox = field(default_factory=Mailbox)

    def sent_email(self) -> EmailMessage:
        [raw] = self.mailbox.received
        return parse(raw)

    def attempts(self) -> list[tuple[int, str, str | None]]:
        with self.runtime.store.engine.connect() as conn:
            rows = conn.execute(select(message_attempts).order_by(message_attempts.c.number))
            return [(r.number, r.outcome, r.error) for r in rows]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _mail_shop(db_url: str, tmp_path: Path, sender: str) -> Iterator[MailShop]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    path = tmp_path / "cartback.yaml"
    path.write_text(
        EMAIL_CONFIG.format(
            db_url=db_url,
            token=TOKEN,
            domain=DOMAIN,
            secret=SECRET,
            smtp_port=port,
            sender=sender,
        )
    )
    clock = FakeClock(START)
    runtime = build(load_config(path, environ={}), clock=clock)
    try:
        with TestClient(create_app(runtime)) as client:
            # No SMS channel is configured: the FakeGateway only fills Shop's field.
            yield MailShop(runtime, client, clock, FakeGateway(clock), mailbox)
    finally:
        runtime.store.close()
        controller.stop()


@pytest.fixture
def shop(db_url: str, tmp_path: Path) -> Iterator[MailShop]:
    yield from _mail_shop(db_url, tmp_path, SHOP_ADDRESS)


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=default).parsebytes(raw)


def _abandon(shop: MailShop) -> None:
    shop.checkout(buyer_accepts_marketing=True)  # the sample buyer gave no email consent
    shop.advance(timedelta(minutes=30))


def _unsubscribe_url(email: EmailMessage) -> str:
    url, _mailto = re.findall(r"<([^<>]+)>", email["List-Unsubscribe"])
    return str(url)


def _decisions(shop: MailShop, cart_id: int) -> list[tuple[int, str, str]]:
    timeline = shop.cart(cart_id)["timeline"]
    return [
        (e["step_index"], e["action"], e["reason"]) for e in timeline if e["kind"] == "decision"
    ]


def test_an_email_step_sends_a_multipart_email_with_unsubscribe_headers(shop: MailShop) -> None:
    _abandon(shop)
    email = shop.sent_email()
    [message] = shop.api("/api/messages")
    assert (message["channel"], message["provider"], message["status"]) == ("email", "smtp", "sent")

    assert email["Message-ID"] == f"<{message['id']}@acme.example>"
    assert email["From"].addresses[0].addr_spec == SHOP_ADDRESS
    assert email["To"].addresses[0].addr_spec == message["recipient"]
    assert email["Subject"] and email["Date"]
    assert email.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in email.iter_parts()] == ["text/plain", "text/html"]

    url, mailto = re.findall(r"<([^<>]+)>", email["List-Unsubscribe"])
    assert url.startswith("https://cb.example/u/")
    assert mailto == f"mailto:{SHOP_ADDRESS}?subject=unsubscribe"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # https: one-click

    text, html = (email.get_body((kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None
    link = re.search(r"https://cb\.example/r/[A-Za-z0-9_-]+", text.get_content())
    assert link is not None, text.get_content()
    assert link.group(0) in html.get_content()
    assert LINE_ITEM in html.get_content()
    assert url in html.get_content()
    assert shop.attempts() == [(1, "sent", None)]


def test_the_unsubscribe_link_and_one_click_post_stop_the_next_email(shop: MailShop) -> None:
    _abandon(shop)
    url = _unsubscribe_url(shop.sent_email())
    path = url.removeprefix("https://cb.example")
    address = shop.api("/api/messages")[0]["recipient"]

    forged = make_token(key_from("not-the-api-token"), "acme", address)
    for bad in (path[:-1] + ("A" if path[-1] != "A" else "B"), f"/u/{forged}", "/u/nonsense"):
        answer = shop.client.get(bad)
        assert answer.status_code == 404, bad
        assert "not valid" in answer.text
    assert shop.client.post(f"/u/{forged}").status_code == 404
    with shop.runtime.store.engine.connect() as conn:
        assert conn.execute(select(suppressions)).all() == [], "a bad token changes nothing"

    page = shop.client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "no more marketing email from Acme" in page.text
    one_click = shop.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    with shop.runtime.store.engine.connect() as conn:
        [row] = conn.execute(select(suppressions)).all()
        ledger = conn.execute(
            select(consent_ledger).where(consent_ledger.c.granted.is_(False))
        ).all()
    assert (row.channel, row.address, row.reason) == ("email", address, "unsubscribe")
    assert {r.source for r in ledger} == {"unsubscribe-link", "list-unsubscribe-post"}

    shop.checkout(token="second-checkout", cart_token="second-cart", buyer_accepts_marketing=True)
    shop.advance(timedelta(minutes=30))
    assert (0, "skip", "suppressed") in _decisions(shop, 2)
    assert len(shop.mailbox.received) == 1
    assert len(shop.api("/api/messages")) == 1


def test_a_451_is_retried_with_backoff_under_the_same_message_id(shop: MailShop) -> None:
    shop.mailbox.refuse_data.append("451 4.3.0 try later")
    _abandon(shop)
    [message] = shop.api("/api/messages")
    assert message["status"] == "queued"
    assert shop.mailbox.received == []
    assert shop.advance(timedelta(seconds=10)) == 0  # backing off (1m, ±20%)
    assert len(shop.mailbox.data_seen) == 1

    shop.advance(timedelta(minutes=2))
    refused, accepted = (parse(raw) for raw in shop.mailbox.data_seen)
    assert refused["Message-ID"] == accepted["Message-ID"] == f"<{message['id']}@acme.example>"
    assert len(shop.mailbox.received) == 1
    [(_, first, error), (_, second, _)] = shop.attempts()
    assert (first, second) == ("retry", "sent")
    assert error is not None and "451" in error
    assert shop.api("/api/messages")[0]["status"] == "sent"
    assert [d[2] for d in _decisions(shop, 1)].count("gateway_retry") == 1


def test_a_server_asking_to_slow_down_halves_the_senders_pace(shop: MailShop) -> None:
    pacer = shop.runtime.scheduler.sender.dispatcher.pacing.of(_smtp(shop))
    assert pacer.buckets == {}, "SMTP has no documented rate: nothing paces it at first"
    shop.mailbox.refuse_data.append("451 4.7.0 too many messages, slow down")
    _abandon(shop)
    [(_, outcome, error)] = shop.attempts()
    assert outcome == "retry" and error is not None and "451" in error
    [bucket] = pacer.buckets.values()
    assert bucket.rate == bucket.limit / 2, "a pace learned from the server, halved at once"


def test_a_temporary_refusal_of_another_kind_keeps_the_pace(shop: MailShop) -> None:
    pacer = shop.runtime.scheduler.sender.dispatcher.pacing.of(_smtp(shop))
    shop.mailbox.refuse_data.append("451 4.3.0 try later")
    _abandon(shop)
    assert [outcome for _, outcome, _ in shop.attempts()] == ["retry"]
    assert pacer.buckets == {}


def test_a_550_fails_at_once_with_the_servers_reason_redacted(shop: MailShop) -> None:
    shop.mailbox.refuse_rcpt.append("550 5.1.1 <example@email.com>: no such user")
    _abandon(shop)
    shop.advance(timedelta(hours=1))
    assert shop.mailbox.data_seen == [] and shop.mailbox.received == []
    [(_, outcome, error)] = shop.attempts()
    assert outcome == "failed" and error is not None and "550" in error
    [message] = shop.api("/api/messages")
    assert message["status"] == "failed"
    assert "550" in message["error"] and "no such user" in message["error"]
    assert "example@email.com" not in message["error"]
    timeline = shop.cart(1)["timeline"]
    assert [e["action"] for e in timeline if e["kind"] == "message"] == ["failed"]


@pytest.fixture
def named_sender_shop(db_url: str, tmp_path: Path) -> Iterator[MailShop]:
    yield from _mail_shop(db_url, tmp_path, f"Acme Shop <{SHOP_ADDRESS}>")


def test_a_from_with_a_display_name_gives_a_clean_from_and_mailto(
    named_sender_shop: MailShop,
) -> None:
    _abandon(named_sender_shop)
    email = named_sender_shop.sent_email()
    [sender] = email["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Acme Shop", SHOP_ADDRESS)
    _url, mailto = re.findall(r"<([^<>]+)>", email["List-Unsubscribe"])
    assert mailto == f"mailto:{SHOP_ADDRESS}?subject=unsubscribe"


def _smtp(shop: MailShop) -> object:
    return shop.runtime.gateways.by_channel[Channel.EMAIL]
