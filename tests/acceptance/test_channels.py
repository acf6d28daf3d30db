"""A real `cartback serve` talking to a real HTTP inMobile fake and a real SMTP server.

The flow is the one the issue describes: an SMS, a wait, then an email. The fake inMobile API is
served over HTTP (tests/fakes/http.py), an aiosmtpd server on 127.0.0.1 collects the email, and
the test plays the shop (signed Shopify webhooks), the gateway (the delivery report to the status
callback URL the SMS carried) and the shopper (a STOP reply, or the unsubscribe link). Every wait
polls for a condition with a bounded deadline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from tests.acceptance.processes import config_yaml, free_port
from tests.acceptance.test_serve import (
    ACME_STORE,
    API_TOKEN,
    DANISH_MOBILE,
    TEMPLATE,
    Server,
    cart_by_key,
    checkout_payload,
    encode,
)
from tests.fakes.http import serve
from tests.fakes.inmobile import INCOMING, FakeInMobile, callback_body, report

pytestmark = pytest.mark.acceptance

SHOP_EMAIL = "shop@acme.example"
SMS_STEP, EMAIL_STEP = 0, 2  # steps: send sms, wait 4s, send email
LINE_ITEM = "IPod Nano - 8GB"  # in Shopify's sample checkout


# --- the SMTP server ---------------------------------------------------------------------------


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts, as bytes off the wire."""

    received: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.received.append(bytes(envelope.content))
        return "250 2.0.0 OK"


@contextmanager
def smtp_server(mailbox: Mailbox) -> Iterator[int]:
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


# --- the cartback process ----------------------------------------------------------------------


@dataclass
class Rig:
    server: Server
    inmobile: FakeInMobile
    mailbox: Mailbox


def write_config(
    path: Path, database_url: str, port: int, inmobile: FakeInMobile, inmobile_url: str, smtp: int
) -> None:
    channels = f"""\
  sms:
    provider: inmobile
    api_key: {inmobile.api_key}
    base_url: {inmobile_url}
    sender: Acme
    cost_per_segment: 0.30
    inbound_poll_every: 1s
  email:
    provider: smtp
    host: 127.0.0.1
    port: {smtp}
    security: none
    from: {SHOP_EMAIL}
"""
    flows = f"""\
  - id: sms-then-email
    store: acme
    abandon_after: 2s
    steps:
      - send: sms
        template: "{TEMPLATE}"
      - wait: 4s
      - send: email
"""
    config = config_yaml(
        database_url, port, API_TOKEN, stores=ACME_STORE, channels=channels, flows=flows
    )
    path.write_text(config, encoding="utf-8")


@pytest.fixture
def rig(db_url: str, tmp_path: Path) -> Iterator[Rig]:
    fake, mailbox = FakeInMobile(), Mailbox()
    with serve(fake.handle) as inmobile_url, smtp_server(mailbox) as smtp_port:
        port = free_port()
        config = tmp_path / "cartback.yaml"
        write_config(config, db_url, port, fake, inmobile_url, smtp_port)
        with Server.started(
            ["serve"],
            config,
            tmp_path,
            "server",
            port=port,
            token=API_TOKEN,
            outbox=tmp_path / "no-outbox.jsonl",
        ) as server:
            yield Rig(server, fake, mailbox)


# --- helpers -----------------------------------------------------------------------------------


def consenting_checkout(*, token: str | None = None) -> dict[str, Any]:
    """The sample checkout with SMS consent and a Danish mobile, and email consent too."""
    checkout = checkout_payload(token=token)
    checkout["buyer_accepts_marketing"] = True  # the sample buyer ticked no email box either
    return checkout


def incoming_polls(fake: FakeInMobile) -> int:
    return sum(1 for r in list(fake.requests) if r.url.path == INCOMING)


def step_decision(server: Server, cart_id: int, step: int) -> dict[str, Any] | None:
    timeline = server.api(f"/api/carts/{cart_id}")["timeline"]
    return next((e for e in timeline if e["kind"] == "decision" and e["step_index"] == step), None)


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=default).parsebytes(raw)


def unsubscribe_targets(header: str) -> list[str]:
    return re.findall(r"<([^<>]+)>", header)


# --- tests -------------------------------------------------------------------------------------


def test_a_stop_reply_after_the_sms_stops_the_email(rig: Rig) -> None:
    server, fake = rig.server, rig.inmobile
    checkout = consenting_checkout()
    answer = server.webhook("checkouts/create", encode(checkout))
    assert answer.status_code == 200, answer.text
    cart_id = cart_by_key(server, checkout["token"])["id"]

    [sms] = server.wait_for("for the SMS at the fake inMobile", lambda: fake.deliveries)
    [message] = server.api("/api/messages")
    assert sms["messageId"] == message["id"]
    assert (sms["to"], sms["from"]) == (DANISH_MOBILE.lstrip("+"), "Acme")
    callback = sms["statusCallbackUrl"]
    assert callback.startswith(f"{server.public_url}/webhooks/inmobile/status?key="), callback
    assert parse_qs(urlsplit(callback).query)["key"] != [""]

    wrong_key = callback.split("?")[0] + "?key=not-the-key"
    body = callback_body(report(sms["messageId"], 1))
    assert server.http.post(wrong_key, content=body).status_code == 401
    delivered = server.http.post(callback, content=body)
    assert delivered.status_code == 200, delivered.text
    assert delivered.json() == {"reports": 1, "matched": 1}

    fake.queue_inbound("45", "20123456", "STOP", received_at=datetime.now(UTC))
    polls = incoming_polls(fake)
    # The worker polls, stores what it got, then polls again: the second poll after the reply
    # was queued proves the reply was handed out and applied.
    server.wait_for("for the STOP reply to be polled", lambda: incoming_polls(fake) >= polls + 2)

    decision = server.wait_for(
        "for the email step's decision", lambda: step_decision(server, cart_id, EMAIL_STEP)
    )
    assert (decision["action"], decision["reason"]) == ("skip", "suppressed"), decision
    assert rig.mailbox.received == [], "no email may follow a STOP reply"
    assert len(fake.deliveries) == 1
    [message] = server.api("/api/messages")
    assert (message["channel"], message["status"]) == ("sms", "delivered")
    assert server.api("/api/report", store="acme")["messages_delivered"] == 1


def test_the_email_follows_the_sms_and_its_unsubscribe_link_stops_the_next(rig: Rig) -> None:
    server, fake, mailbox = rig.server, rig.inmobile, rig.mailbox
    checkout = consenting_checkout()
    assert server.webhook("checkouts/create", encode(checkout)).status_code == 200

    [raw] = server.wait_for("for the email at the SMTP server", lambda: list(mailbox.received))
    assert len(fake.deliveries) == 1, "the SMS step came first"
    email = parse(raw)
    sent = {m["channel"]: m for m in server.api("/api/messages")}
    assert sent["email"]["status"] == "sent"
    assert email["Message-ID"] == f"<{sent['email']['id']}@acme.example>"
    assert email["To"].addresses[0].addr_spec == sent["email"]["recipient"]
    assert email["From"].addresses[0].addr_spec == SHOP_EMAIL
    assert email["Subject"]
    assert email.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in email.iter_parts()]
    assert parts == ["text/plain", "text/html"], parts

    unsubscribe, mailto = unsubscribe_targets(email["List-Unsubscribe"])
    assert unsubscribe.startswith(f"{server.public_url}/u/"), unsubscribe
    assert mailto == f"mailto:{SHOP_EMAIL}?subject=unsubscribe"
    # RFC 8058: one-click is announced only for an https URI; public_url is http here.
    assert "List-Unsubscribe-Post" not in email

    html = email.get_body(("html",))
    text = email.get_body(("plain",))
    assert html is not None and text is not None
    link = re.search(rf"{re.escape(server.public_url)}/r/[A-Za-z0-9_-]+", text.get_content())
    assert link is not None, text.get_content()
    html_content = html.get_content()
    assert LINE_ITEM in html_content
    assert link.group(0) in html_content
    assert unsubscribe in html_content

    answer = server.http.post(unsubscribe)
    assert answer.status_code == 200, answer.text
    assert "no more marketing email" in answer.text

    again = consenting_checkout(token="second-checkout")  # same shopper, same email address
    again["buyer_accepts_sms_marketing"] = False
    again["sms_marketing_phone"] = None
    assert server.webhook("checkouts/create", encode(again)).status_code == 200
    second = cart_by_key(server, again["token"])["id"]
    decision = server.wait_for(
        "for the second cart's email step", lambda: step_decision(server, second, EMAIL_STEP)
    )
    assert (decision["action"], decision["reason"]) == ("skip", "suppressed"), decision
    assert len(mailbox.received) == 1
    assert len(fake.deliveries) == 1
