"""The SMTP gateway against a real SMTP server (aiosmtpd on 127.0.0.1), with TLS and AUTH."""

from __future__ import annotations

import email.policy
import logging
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from cartback.channels.base import LineItemView, OutgoingMessage, RichContent, SendStatus
from cartback.channels.smtp import SmtpGateway
from cartback.clock import FakeClock
from cartback.domain.events import Channel

RECIPIENT = "astrid.hansen@example.com"
FROM = "shop@nordic-knit.example"
UNSUBSCRIBE_URL = "https://cb.example/u/c2hvcAB0b2tlbg"
UNSUBSCRIBE_MAILTO = "unsubscribe@nordic-knit.example"
USER, PASSWORD = "shop", "s3cret-pass"
HTML = (
    '<p>Hi Astrid</p><table><tr><td><img src="https://img.example/socks.jpg" alt="Wool socks"'
    ' width="64"></td><td>Wool socks</td><td>2</td><td>12.50 DKK</td></tr></table>'
    '<a href="https://cb.example/r/AbCdEf">Return to your basket</a>'
)


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it receives, or answers with a canned reply."""

    rcpt_reply: str | None = None
    data_reply: str | None = None
    received: list[Any] = field(default_factory=list)
    sessions: list[Any] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, _: Any
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        self.received.append(envelope)
        self.sessions.append(session)
        return "250 Message accepted for delivery"

    def parsed(self) -> EmailMessage:
        assert len(self.received) == 1
        message = BytesParser(policy=email.policy.default).parsebytes(self.received[0].content)
        assert isinstance(message, EmailMessage)
        return message


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_server(handler: Recorder, **smtp_options: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, server_hostname="localhost", **smtp_options
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def accept_one_user(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    # handled=False: on failure aiosmtpd answers 535 itself (with handled=True it stays silent)
    return AuthResult(success=ok, handled=False, auth_data=mechanism if ok else None)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-days", "1", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def gateway(port: int, **options: Any) -> SmtpGateway:
    settings: dict[str, Any] = {
        "security": "none",
        "username": None,
        "password": None,
        "from_address": FROM,
        "clock": FakeClock(),
        "timeout": 5.0,
    }
    settings.update(options)
    return SmtpGateway("127.0.0.1", port, **settings)


def basket_email(message_id: str = "msg0001", **overrides: Any) -> OutgoingMessage:
    rich = RichContent(
        html=HTML,
        items=(LineItemView("Wool socks", 2, Decimal("12.50"), "DKK"),),
        unsubscribe_url=UNSUBSCRIBE_URL,
        unsubscribe_mailto=UNSUBSCRIBE_MAILTO,
    )
    fields: dict[str, Any] = {
        "id": message_id,
        "channel": Channel.EMAIL,
        "to": RECIPIENT,
        "sender": "Nordic Knit",
        "text": "Hi Astrid, your basket is saved: https://cb.example/r/AbCdEf",
        "subject": "Your basket at Nordic Knit is waiting",
        "rich": rich,
    }
    fields.update(overrides)
    return OutgoingMessage(**fields)


def test_a_basket_email_arrives_as_text_and_html_with_one_click_unsubscribe() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        result = gateway(port).send(basket_email())

    assert result.status == SendStatus.SENT
    received = handler.parsed()
    assert received.get_content_type() == "multipart/alternative"
    plain, html = (part.get_content_type() for part in received.iter_parts())
    assert (plain, html) == ("text/plain", "text/html")
    assert received["Subject"] == "Your basket at Nordic Knit is waiting"
    assert received["From"].addresses[0].display_name == "Nordic Knit"
    assert received["From"].addresses[0].addr_spec == FROM
    assert received["To"] == RECIPIENT
    assert handler.received[0].rcpt_tos == [RECIPIENT]
    assert received["Date"].datetime == FakeClock().now()
    assert received["List-Unsubscribe"] == (
        f"<{UNSUBSCRIBE_URL}>, <mailto:{UNSUBSCRIBE_MAILTO}?subject=unsubscribe>"
    )
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_html_part_shows_the_items_the_image_and_the_link() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        gateway(port).send(basket_email())

    body = handler.parsed().get_body(preferencelist=("html",))
    assert body is not None
    html = body.get_content()
    for shown in ("Wool socks", ">2<", "12.50 DKK", "https://cb.example/r/AbCdEf"):
        assert shown in html
    assert '<img src="https://img.example/socks.jpg" alt="Wool socks" width="64">' in html
    plain = handler.parsed().get_body(preferencelist=("plain",))
    assert plain is not None and "https://cb.example/r/AbCdEf" in plain.get_content()


def test_the_message_id_is_made_from_ours_so_a_resend_is_recognisable() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        first = gateway(port).send(basket_email("msg0042"))
        second = gateway(port).send(basket_email("msg0042"))

    ids = [
        BytesParser(policy=email.policy.default).parsebytes(env.content)["Message-ID"]
        for env in handler.received
    ]
    assert ids == ["<msg0042@nordic-knit.example>"] * 2
    assert first.provider_message_id == second.provider_message_id == ids[0]
    assert first.sent_at == FakeClock().now()


def test_a_non_ascii_sender_name_is_encoded_and_reads_back() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        gateway(port).send(basket_email(sender="Strik & Søn ÆØÅ", subject="Din kurv venter ✓"))

    raw = handler.received[0].content
    assert "Strik & Søn ÆØÅ".encode() not in raw  # encoded on the wire, not raw 8-bit
    received = handler.parsed()
    assert received["From"].addresses[0].display_name == "Strik & Søn ÆØÅ"
    assert received["Subject"] == "Din kurv venter ✓"


def test_without_html_the_email_is_plain_text() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        gateway(port).send(basket_email(rich=None))

    received = handler.parsed()
    assert received.get_content_type() == "text/plain"
    assert "List-Unsubscribe" not in received


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, "<mailto:u@nordic-knit.example?subject=stop>"),
        ("http://localhost:8000/u/tok",
         "<http://localhost:8000/u/tok>, <mailto:u@nordic-knit.example?subject=stop>"),
    ],
)  # fmt: skip
def test_one_click_is_only_offered_with_an_https_url(url: str | None, expected: str) -> None:
    handler = Recorder()
    rich = RichContent(
        html=HTML,
        unsubscribe_url=url,
        unsubscribe_mailto="mailto:u@nordic-knit.example?subject=stop",
    )
    with smtp_server(handler) as port:
        gateway(port).send(basket_email(rich=rich))

    received = handler.parsed()
    assert received["List-Unsubscribe"] == expected
    assert "List-Unsubscribe-Post" not in received


def test_a_long_unsubscribe_url_goes_on_the_wire_verbatim() -> None:
    handler = Recorder()
    url = "https://recovery.nordic-knitwear.example.com/u/" + "QWxhZGRpbjpvcGVuIHNlc2FtZQ" * 4
    rich = RichContent(html=HTML, unsubscribe_url=url, unsubscribe_mailto=UNSUBSCRIBE_MAILTO)
    with smtp_server(handler) as port:
        gateway(port).send(basket_email(rich=rich))

    raw = handler.received[0].content
    assert f"List-Unsubscribe: <{url}>,\r\n".encode() in raw  # not RFC 2047 encoded-words
    assert handler.parsed()["List-Unsubscribe"] == (
        f"<{url}>, <mailto:{UNSUBSCRIBE_MAILTO}?subject=unsubscribe>"
    )


def test_starttls_with_a_trusted_certificate(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    handler = Recorder()
    with smtp_server(handler, tls_context=server_tls, require_starttls=True) as port:
        result = gateway(port, security="starttls", ssl_context=client_tls).send(basket_email())

    assert result.status == SendStatus.SENT
    assert handler.sessions[0].ssl is not None


def test_implicit_tls(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    handler = Recorder()
    with smtp_server(handler, ssl_context=server_tls) as port:
        result = gateway(port, security="tls", ssl_context=client_tls).send(basket_email())

    assert result.status == SendStatus.SENT
    assert handler.parsed()["Subject"] == "Your basket at Nordic Knit is waiting"


def test_an_untrusted_certificate_fails_without_sending(server_tls: ssl.SSLContext) -> None:
    handler = Recorder()
    with smtp_server(handler, tls_context=server_tls) as port:
        result = gateway(port, security="starttls").send(basket_email())  # system trust store

    assert result.status == SendStatus.FAILED
    assert result.error is not None and "certificate" in result.error
    assert handler.received == []


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_over_starttls(
    mechanism: str, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    handler = Recorder()
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    options = {
        "tls_context": server_tls,
        "authenticator": accept_one_user,
        "auth_required": True,
        "auth_exclude_mechanism": [other],
    }
    with smtp_server(handler, **options) as port:
        result = gateway(
            port, security="starttls", ssl_context=client_tls, username=USER, password=PASSWORD
        ).send(basket_email())

    assert result.status == SendStatus.SENT
    assert handler.sessions[0].auth_data == mechanism


def test_starttls_and_login_happen_once_for_many_messages(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    handler = Recorder()
    logins: list[str] = []

    def authenticate(*args: Any) -> AuthResult:
        logins.append("login")
        return accept_one_user(*args)

    options = {"tls_context": server_tls, "authenticator": authenticate, "auth_require_tls": True}
    with smtp_server(handler, **options) as port:
        smtp = gateway(
            port, security="starttls", ssl_context=client_tls, username=USER, password=PASSWORD
        )
        results = [smtp.send(basket_email(f"msg{n}")) for n in range(5)]

    assert [r.status for r in results] == [SendStatus.SENT] * 5
    assert len({session.peer for session in handler.sessions}) == 1
    assert logins == ["login"]


def test_a_wrong_password_fails_with_535(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    handler = Recorder()
    options = {"tls_context": server_tls, "authenticator": accept_one_user, "auth_required": True}
    with smtp_server(handler, **options) as port:
        result = gateway(
            port, security="starttls", ssl_context=client_tls, username=USER, password="wrong"
        ).send(basket_email())

    assert result.status == SendStatus.FAILED
    assert result.error_code == "535"
    assert result.http_status is None
    assert handler.received == []


def test_a_temporary_refusal_is_retried() -> None:
    with smtp_server(Recorder(data_reply="451 try later")) as port:
        result = gateway(port).send(basket_email())

    assert result.status == SendStatus.RETRY
    assert result.error_code == "451"
    assert result.error is not None and "try later" in result.error


def test_an_unknown_recipient_fails_with_the_servers_code() -> None:
    with smtp_server(Recorder(rcpt_reply="550 no such user")) as port:
        result = gateway(port).send(basket_email())

    assert result.status == SendStatus.FAILED
    assert result.error_code == "550"
    assert result.error is not None and "no such user" in result.error


def test_a_closed_port_is_retried() -> None:
    result = gateway(free_port()).send(basket_email())

    assert result.status == SendStatus.RETRY
    assert result.error is not None and "127.0.0.1" in result.error


def test_a_server_that_never_greets_is_retried_after_the_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        result = gateway(silent.getsockname()[1], timeout=0.3).send(basket_email())

    assert result.status == SendStatus.RETRY


def test_no_full_address_in_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="cartback")
    reply = f"550 5.1.1 <{RECIPIENT}>: Recipient address rejected"
    with smtp_server(Recorder(rcpt_reply=reply)) as port:
        refused = gateway(port).send(basket_email())
    with smtp_server(Recorder()) as port:
        sent = gateway(port).send(basket_email())

    assert refused.status == SendStatus.FAILED and sent.status == SendStatus.SENT
    assert refused.error is not None and RECIPIENT not in refused.error
    ours = [record for record in caplog.records if record.name.startswith("cartback")]
    assert len(ours) == 2
    for record in ours:
        assert RECIPIENT not in record.getMessage()
        assert RECIPIENT not in str(record.__dict__)


def test_login_where_the_server_offers_no_auth_fails_as_a_setup_problem() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:  # AUTH is only offered over TLS
        result = gateway(port, username=USER, password=PASSWORD).send(basket_email())

    assert result.status == SendStatus.FAILED
    assert result.error is not None and "AUTH" in result.error
    assert PASSWORD not in result.error
    assert handler.received == []


def test_a_line_break_in_the_address_cannot_add_headers() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        result = gateway(port).send(basket_email(to=f"{RECIPIENT}\r\nBcc: everyone@example.com"))

    assert result.status == SendStatus.FAILED
    assert result.error is not None and RECIPIENT not in result.error
    assert handler.received == []


def test_a_busy_greeting_is_retried() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with ThreadPoolExecutor(1) as pool:
            pool.submit(answer_once, busy, b"421 4.3.2 too busy, come back later\r\n")
            result = gateway(port).send(basket_email())

    assert result.status == SendStatus.RETRY
    assert result.error_code == "421"


def answer_once(listener: socket.socket, reply: bytes) -> None:
    connection, _ = listener.accept()
    with connection:
        connection.sendall(reply)
