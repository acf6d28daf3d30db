"""Serve an `httpx.MockTransport`-style handler as a real HTTP server on 127.0.0.1.

The fakes in this package are plain functions `handle(httpx.Request) -> httpx.Response`. In-process
tests give them to `httpx.MockTransport`; acceptance tests, whose cartback runs in another process,
serve them here:

    with serve(fake.handle) as base_url:
        ...  # configure cartback with base_url

Each incoming request becomes an `httpx.Request` (method, full URL, headers, body) and the
handler's response is written back. The handler is called one request at a time, so a fake needs no
locking of its own. A handler that raises an `httpx.TransportError` (a fake's programmed timeout or
disconnect) makes the server drop the connection without an answer, as a dead gateway would; any
other exception is answered with a 500 naming it. Connections close after each answer, sockets time
out, bodies are bounded, and leaving the block stops the server and joins its threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Handler = Callable[[httpx.Request], httpx.Response]

MAX_BODY = 10 * 1024 * 1024  # bytes
SOCKET_TIMEOUT = 10.0  # seconds a connection may sit idle mid-request
STOP_TIMEOUT = 15.0  # seconds to wait for the serving thread at the end
_HOP_BY_HOP = {"connection", "content-length", "keep-alive", "transfer-encoding"}


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the request threads: nothing is left running
    block_on_close = True

    def __init__(self, handler: Handler) -> None:
        super().__init__(("127.0.0.1", 0), _RequestHandler)
        self.handler = handler
        self.calling = threading.Lock()
        self.base_url = f"http://127.0.0.1:{self.server_port}"


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT

    def do_request(self) -> None:
        self.close_connection = True
        body = self._body()
        if body is None:
            self._answer(httpx.Response(413, text=f"request body over {MAX_BODY} bytes"))
            return
        request = httpx.Request(
            self.command,
            self.server.base_url + self.path,
            headers=[(name, value) for name, value in self.headers.items()],
            content=body,
        )
        try:
            with self.server.calling:
                response = self.server.handler(request)
            response.read()
        except httpx.TransportError:
            return  # no answer at all: the client sees the connection dropped
        except Exception as exc:  # a broken fake must be visible, not hang the client
            response = httpx.Response(500, text=f"fake handler raised {type(exc).__name__}: {exc}")
        self._answer(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_request

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length <= MAX_BODY else None

    def _chunked_body(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            total += size
            if total > MAX_BODY:
                return None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers, up to the blank line
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)  # the CRLF after each chunk

    def _answer(self, response: httpx.Response) -> None:
        content = response.content
        self.send_response(response.status_code, response.reason_phrase or None)
        for name, value in response.headers.multi_items():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-encoding":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the fakes record their requests; no noise on stderr


@contextmanager
def serve(handler: Handler) -> Iterator[str]:
    """Serve `handler` on a free port of 127.0.0.1; yields the base URL, e.g. http://127.0.0.1:5123."""
    server = _Server(handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-http", daemon=True
    )
    thread.start()
    try:
        yield server.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(STOP_TIMEOUT)
