"""Emails per second through the SMTP gateway: a kept connection against one per message.

A local SMTP server (aiosmtpd on 127.0.0.1) that asks for STARTTLS and AUTH, as a mail
provider does. The same gateway sends the same emails twice: once closing each connection after
one message (as every message did before connections were kept), once keeping them. Both from
one thread and from several. Prints the raw numbers and the ratios measured in one run; on a
real network every handshake round trip costs far more than on loopback, so the ratio here is
the least the reuse gains.

    python bench/smtp_reuse.py [--messages 300] [--threads 4]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import ssl
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from cartback.channels.base import OutgoingMessage, SendStatus
from cartback.channels.smtp import SmtpGateway
from cartback.clock import SystemClock
from cartback.domain.events import Channel

USER, PASSWORD = "bench", "bench-pass"


class Sink:
    """Accepts every message; counts them and the connections they came on."""

    def __init__(self) -> None:
        self.received = 0
        self.peers: set[Any] = set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        self.peers.add(session.peer)
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=mechanism if ok else None)


def certificate(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway certificate: the server's context and a client context that trusts it."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-days", "1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=str(cert))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def email(n: int) -> OutgoingMessage:
    return OutgoingMessage(
        f"bench{n}", Channel.EMAIL, f"person{n}@example.com", "Bench", "Your basket is saved",
        subject="Your basket",
    )  # fmt: skip


def rate(gateway: SmtpGateway, sink: Sink, messages: int, threads: int) -> tuple[float, int]:
    """Emails/s sending `messages` from `threads` threads (every one must be accepted), and the
    connections they took."""
    sink.peers.clear()
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(gateway.send, map(email, range(messages))))
    seconds = time.perf_counter() - started
    gateway.close()
    assert all(result.status == SendStatus.SENT for result in results), "a send failed"
    return messages / seconds, len(sink.peers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd warns at every login
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as name:
        server_tls, client_tls = certificate(Path(name))
        sink, port = Sink(), free_port()
        options = {"tls_context": server_tls, "authenticator": authenticate}
        controller = Controller(sink, hostname="127.0.0.1", port=port, **options)
        controller.start()
        try:

            def gateway(per_connection: int, connections: int) -> SmtpGateway:
                return SmtpGateway(
                    "127.0.0.1", port, security="starttls", username=USER, password=PASSWORD,
                    from_address="shop@example.com", clock=SystemClock(), ssl_context=client_tls,
                    connections=connections, messages_per_connection=per_connection,
                )  # fmt: skip

            figures = {
                (kept, threads): rate(
                    gateway(100 if kept else 1, threads), sink, args.messages, threads
                )
                for threads in (1, args.threads)
                for kept in (False, True)
            }
        finally:
            controller.stop()
    print(
        f"smtp, {args.messages} emails per row, STARTTLS + AUTH on 127.0.0.1; "
        f"{os.cpu_count()} CPUs, load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after; {sink.received} received"
    )
    for threads in (1, args.threads):
        (fresh, opened), (kept, reused) = figures[(False, threads)], figures[(True, threads)]
        print(f"  {threads} thread(s), a connection per email {fresh:7.1f}/s  {opened} connections")
        print(
            f"  {threads} thread(s), kept connections     {kept:7.1f}/s  {reused} connections  "
            f"ratio {kept / fresh:.1f}"
        )


if __name__ == "__main__":
    main()
