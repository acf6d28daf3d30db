"""`cartback serve`, `worker`, `migrate` and `check`: the long-running processes and their setup.

A start either succeeds whole or sends nothing: the config, the gateways, the database and the
port are all checked first; the worker (and the demo shop) start only once the HTTP server is
listening, from uvicorn's start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from cartback.cli.common import add_command, open_runtime
from cartback.cli.summary import Summary
from cartback.config import Settings
from cartback.metrics import Metrics
from cartback.reload import Reloader
from cartback.runtime import worker_thread
from cartback.startup import (
    OperatorError,
    channel_findings,
    ensure_schema,
    link_warnings,
    listen_socket,
    open_database,
    peek_database,
    schema_level,
    text_warnings,
)
from cartback.store import migrate

log = logging.getLogger("cartback")


def add_commands(commands: Any) -> None:
    serve = add_command(
        commands,
        "serve",
        "run the HTTP API and, unless --no-worker, the worker",
        serve_command,
        more="Webhooks, links and the API; the worker sends due messages.",
        secrets=True,
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--no-worker", action="store_true", help="API only; run `cartback worker` apart"
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="also run a simulated shop against this server (links follow the real port)",
    )
    worker = add_command(
        commands,
        "worker",
        "run the worker only (no HTTP)",
        worker_command,
        more="Any number of workers share a PostgreSQL database.",
        secrets=True,
    )
    worker.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve this worker's Prometheus metrics on PORT (no token: keep it private)",
    )
    worker.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address for --metrics-port (default: %(default)s)",
    )
    add_command(
        commands,
        "migrate",
        "bring the database schema up to date",
        migrate_command,
        more="PostgreSQL needs it after each upgrade; SQLite is migrated by every command.",
    )
    add_command(
        commands,
        "check",
        "validate the config, reach the database, print what serve would run",
        check_command,
        more="Looks at the database schema and the SMTP host too; changes nothing. "
        "Exit 0 when serve would start, else 2.",
    )


# --- serve --------------------------------------------------------------------------------------


def serve_command(settings: Settings, args: argparse.Namespace) -> int:
    engine = open_database(settings.database_url)
    sock = listen_socket(args.host, args.port)
    try:
        port = int(sock.getsockname()[1])
        if args.demo:  # the demo's links lead to this very server, whatever port it got
            settings = settings.model_copy(update={"public_url": local_url(args.host, port)})
        opened = open_runtime(settings, args.config, engine=engine, echo_outbox=args.demo)
        runtime = opened.runtime
        runtime.apply_after_answer = not args.no_worker
        if not args.no_worker:  # applying gives way to answering while webhooks arrive
            runtime.deliveries.webhooks_busy = runtime.recorder.busy
        summary = Summary(
            settings,
            listening=_http_url(args.host, port),
            database=f"(schema {opened.revision})",
            worker="off: run `cartback worker`" if args.no_worker else "in this process",
            warnings=opened.warnings + link_warnings(settings, port) + text_warnings(settings),
        )
        threads: list[Any] = []
        Reloader(opened.runtime, args.config).install()  # kill -HUP: read the config again

        def on_listening() -> None:
            print("\n".join(summary.lines()), file=sys.stderr, flush=True)
            if not args.no_worker:
                threads.append(worker_thread(opened.runtime))
            if args.demo:
                from cartback.demo import DemoShop

                threads.append(DemoShop(settings, local_url(args.host, port)))
            for thread in threads:
                thread.start()

        try:
            _run_server(opened.runtime, sock, on_listening)
        finally:
            for thread in reversed(threads):
                thread.stop()
                thread.join(timeout=10)
            opened.runtime.close()
    finally:
        sock.close()
    return 0


def _run_server(runtime: Any, sock: socket.socket, on_listening: Callable[[], None]) -> None:
    import uvicorn

    from cartback.api.app import create_app

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started and not self.should_exit:
                on_listening()

    config = uvicorn.Config(
        create_app(runtime), log_level="warning", log_config=None, access_log=False
    )
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT, handed on by uvicorn once stopped
        Server(config).run(sockets=[sock])


def local_url(host: str, port: int) -> str:
    """How this machine reaches the server: a wildcard address is reached on loopback."""
    wildcards = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104
    reachable = wildcards.get(host, host)
    return _http_url(reachable, port)


def _http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


# --- worker, migrate, check ---------------------------------------------------------------------


def worker_command(settings: Settings, args: argparse.Namespace) -> int:
    opened = open_runtime(settings, args.config)
    worker = worker_thread(opened.runtime)
    stopped = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    Reloader(opened.runtime, args.config).install()
    summary = Summary(
        settings,
        database=f"(schema {opened.revision})",
        worker="this process",
        warnings=opened.warnings + link_warnings(settings) + text_warnings(settings),
        webhooks=False,
    )
    stop_metrics = _metrics_server(opened.runtime.metrics, args.metrics_host, args.metrics_port)
    print("\n".join(summary.lines()), file=sys.stderr, flush=True)
    worker.start()
    log.info("worker started", extra={"database": opened.runtime.store.kind})
    stopped.wait()
    worker.stop()
    worker.join(timeout=30)
    opened.runtime.close()
    stop_metrics()
    log.info("worker stopped")
    return 0


def _metrics_server(metrics: Metrics, host: str, port: int | None) -> Callable[[], None]:
    if port is None:
        return lambda: None
    try:
        return metrics.serve(host, port)
    except OSError as exc:
        raise OperatorError(f"--metrics-port {port}: cannot listen on {host} ({exc})") from None


def migrate_command(settings: Settings, args: argparse.Namespace) -> int:
    engine = open_database(settings.database_url)
    try:
        revision = ensure_schema(engine, upgrade=True, config_file=args.config)
    finally:
        engine.dispose()
    print(f"database at revision {revision}")
    return 0


def check_command(settings: Settings, args: argparse.Namespace) -> int:
    findings = channel_findings(settings, strict_dns=True)
    errors = [f.text for f in findings if f.level == "error"]
    warnings = [f.text for f in findings if f.level == "warning"]
    warnings += link_warnings(settings) + text_warnings(settings)
    database, mistake = _database_state(settings, args.config)
    errors += [mistake] if mistake else []
    summary = Summary(settings, database=database, warnings=warnings)
    print("\n".join(summary.lines()))
    for error in errors:
        print(f"cartback: {error}", file=sys.stderr)
    print(f"{len(errors)} problem(s): serve would not start" if errors else "ok: serve would start")
    return 2 if errors else 0


def _database_state(settings: Settings, config_file: str) -> tuple[str, str | None]:
    """What `check` tells of the database, and what stops serve there; it changes nothing
    (an SQLite file is made and migrated by serve)."""
    try:
        engine = peek_database(settings.database_url)
    except OperatorError as mistake:
        return "(not reached)", str(mistake)
    if engine is None:
        return "(no file yet: serve makes it)", None
    try:
        current, head = migrate.current_revision(engine), migrate.head_revision(engine)
        if engine.dialect.name == "sqlite" and current != head:
            return f"(reached, schema {current or 'empty'}: serve migrates it to {head})", None
        return f"(reached, schema {schema_level(engine, config_file)})", None
    except OperatorError as mistake:
        return f"(reached, schema {current or 'empty'})", str(mistake)
    finally:
        engine.dispose()
