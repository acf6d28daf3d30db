"""The webhook app's own CPU per request, without uvicorn, sockets or a load generator.

`bench/ingest.py` measures the whole server from outside; this one drives the ASGI app itself in
this process, 16 requests at a time, with the same signed Shopify checkouts (each sent twice,
as create and update): the empty handler's app, then cartback's app on SQLite and on
PostgreSQL, as `serve --no-worker` answers (verified, stored, deduplicated; applied by no one
here). The CPU is this process's, all threads (the recorder's writers included); the server's
HTTP parsing and socket work, the same for both apps, is not in it. Each app first answers
other checkouts, and PostgreSQL is analyzed after them (as in `bench/ingest.py`). Prints the
figures and the ratios of one run; no thresholds.

    python bench/ingest_app.py [--requests 12000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ingest import (
    CONNECTIONS,
    analyze,
    cartback,
    fresh_postgres,
    postgres_option,
    prepared_checkouts,
)
from loadgen import Prepared

from cartback.api.app import create_app
from cartback.cli.common import open_runtime
from cartback.config import load_config
from cartback.store import migrate
from cartback.store.db import connect

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def empty_app() -> FastAPI:
    """The empty handler of `bench/ingest.py`: reads the body, answers 200."""
    app = FastAPI()

    @app.post("/webhooks/shopify")
    async def empty(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"ok": True})

    return app


async def answer(app: App, request: Prepared) -> int:
    """One request through the app as uvicorn hands it over; its answer's status."""
    headers = [(name.lower().encode(), value.encode()) for name, value in request.headers.items()]
    headers += [(b"content-length", str(len(request.body)).encode()), (b"host", b"127.0.0.1")]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    given = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": request.body, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until the answer is sent
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    await app(scope, receive, send)
    return status


async def answer_all(app: App, requests: list[Prepared]) -> list[int]:
    """Every request, `CONNECTIONS` at a time."""
    room = asyncio.Semaphore(CONNECTIONS)

    async def one(request: Prepared) -> int:
        async with room:
            return await answer(app, request)

    return await asyncio.gather(*(one(request) for request in requests))


def measure(app: App, count: int) -> tuple[float, float, int]:
    """CPU and wall milliseconds per request, and the answers that were not 2xx."""
    asyncio.run(answer_all(app, prepared_checkouts(1000)))  # warm-up: other checkouts
    requests = prepared_checkouts(count // 2)
    cpu, wall = time.process_time(), time.perf_counter()
    statuses = asyncio.run(answer_all(app, requests))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    failed = sum(not 200 <= status < 300 for status in statuses)
    return cpu * 1000 / len(statuses), wall * 1000 / len(statuses), failed


def cartback_app(folder: Path, database_url: str) -> tuple[App, Callable[[], None]]:
    """cartback's app as `serve --no-worker` builds it, and how to close it."""
    _, _, config = cartback(folder, database_url, "--no-worker")
    if database_url.startswith("postgresql"):  # `serve` migrates SQLite itself
        engine = connect(database_url)
        migrate.upgrade(engine)
        engine.dispose()
    opened = open_runtime(load_config(config, environ={}), str(config))
    opened.runtime.apply_after_answer = False
    return create_app(opened.runtime), opened.runtime.close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=12000, help="measured requests per app")
    postgres_option(parser, skippable=True)
    args = parser.parse_args()
    results = {"empty handler": measure(empty_app(), args.requests)}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        databases = {"cartback, SQLite": f"sqlite:///{folder / 'bench.db'}"}
        if args.postgres:
            databases["cartback, PostgreSQL"] = fresh_postgres(args.postgres)
        for label, database_url in databases.items():
            app, close = cartback_app(folder, database_url)
            try:
                asyncio.run(answer_all(app, prepared_checkouts(1000)))
                analyze(database_url)
                results[label] = measure(app, args.requests)
            finally:
                close()

    base = results["empty handler"][0]
    print(
        f"webhook app in-process, {args.requests} requests ({args.requests // 2} checkouts x 2), "
        f"{CONNECTIONS} at a time; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    for label, (cpu, wall, failed) in results.items():
        print(
            f"  {label:<22} CPU {cpu:.3f} ms/request  wall {wall:.3f} ms/request  "
            f"non-2xx {failed}  CPU x{cpu / base:.1f} the empty handler's"
        )
    if any(failed for _, _, failed in results.values()):
        sys.exit("some answers were not 2xx: see above")


if __name__ == "__main__":
    main()
