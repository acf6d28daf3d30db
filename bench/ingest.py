"""Webhook ingest throughput, as a ratio to an empty handler on the same FastAPI/uvicorn stack.

Distinct signed Shopify checkouts, each sent twice the way `checkouts/create` and
`checkouts/update` arrive, at 16 connections, against: an empty handler (reads the body,
answers 200), `cartback serve` on SQLite with its worker in-process, and `cartback serve
--no-worker` on PostgreSQL. Then latency at half of cartback's own maximum rate, sent at that
constant rate (`loadgen._PACED`). All three run on uvicorn with the same settings (its defaults
for the loop and the HTTP parser, access log off) in one process each. Each server first gets
a few seconds of other checkouts (`--warm-up`); PostgreSQL's are followed by ANALYZE, as
autovacuum takes a new database's statistics within a minute of its first deliveries (see
`settle`). All three stay up, and are measured in turns, one after the other (`--turns`, 3):
a shared machine's speed drifts from minute to minute, so each turn's ratio compares two runs
made back to back, and the ratio printed against the target is the median of the turns'.
Prints every turn's raw numbers and ratio; no thresholds (shared machines are noisy).

    python bench/ingest.py [--seconds 10] [--checkouts 2000] [--warm-up 3] [--turns 3]
                           [--postgres URL] [--python]
"""

from __future__ import annotations

import argparse
import atexit
import copy
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from loadgen import LoadResult, Prepared, run_python, run_wrk, wrk_available
from sqlalchemy import create_engine, text

from cartback.integrations.shopify import sign

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "fixtures" / "shopify" / "checkouts_create.json"
DOMAIN = "bench.myshopify.com"
SECRET = "bench-webhook-secret"
TOKEN = "bench-api-token"
CONNECTIONS = 16

CONFIG = """\
database_url: {database_url}
public_url: http://127.0.0.1:{port}
api_token: {token}
stores:
  - id: bench
    platform: shopify
    shop_domain: {domain}
    webhook_secret: {secret}
    name: Bench
    timezone: Europe/Copenhagen
    default_country: DK
channels:
  sms:
    provider: outbox
    path: {outbox}
    sender: Bench
flows:
  - id: cart-sms
    store: bench
    abandon_after: 30m
    steps:
      - send: sms
"""

EMPTY_APP = """
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()

@app.post("/webhooks/shopify")
async def empty(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"status": "ok"})
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


EMPTY, SQLITE, POSTGRES = "empty handler", "serve, SQLite", "serve --no-worker, PostgreSQL"


def prepared_checkouts(count: int) -> list[Prepared]:
    sample = json.loads(SAMPLE.read_text())
    start = datetime.now(UTC)  # fresh carts: none is abandoned while the load runs
    out: list[Prepared] = []
    for n in range(count):
        payload = copy.deepcopy(sample)
        token = uuid.uuid4().hex
        payload.update(
            token=token,
            cart_token=uuid.uuid4().hex,
            email=f"shopper{n}@example.com",
            buyer_accepts_sms_marketing=True,
            sms_marketing_phone=f"+45{20000000 + n}",
        )
        for topic, minutes in (("checkouts/create", 0), ("checkouts/update", 1)):
            payload["updated_at"] = (start + timedelta(minutes=minutes)).isoformat()
            body = json.dumps(payload, separators=(",", ":")).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Shop-Domain": DOMAIN,
                "X-Shopify-Hmac-Sha256": sign(body, SECRET),
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            }
            out.append(Prepared("/webhooks/shopify", headers, body))
    return out


@contextmanager
def server(command: list[str], port: int, cwd: Path) -> Iterator[tuple[str, int]]:
    """The server's base URL and process id, once it answers; stopped on leaving."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARTBACK_")}
    log = (cwd / f"server-{port}.log").open("wb")
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited: see {log.name}")
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code in (200, 404):
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def cartback(folder: Path, database_url: str, *extra: str) -> tuple[list[str], int, Path]:
    port = free_port()
    config = folder / f"cartback-{port}.yaml"
    config.write_text(
        CONFIG.format(
            database_url=database_url,
            port=port,
            token=TOKEN,
            domain=DOMAIN,
            secret=SECRET,
            outbox=folder / "outbox.jsonl",
        )
    )
    command = [sys.executable, "-m", "cartback.cli", "serve", "--config", str(config)]
    return [*command, "--port", str(port), *extra], port, config


def postgres_option(parser: argparse.ArgumentParser, *, skippable: bool = False) -> None:
    """`--postgres`: the admin URL a bench makes its own fresh database from."""
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CARTBACK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="an admin URL; a fresh database is made from it"
        + (" (empty string: skip PostgreSQL)" if skippable else ""),
    )


def fresh_postgres(admin_url: str) -> str:
    """A database of the bench's own, dropped when the bench ends (however it ends)."""
    name = f"cartback_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    atexit.register(drop_postgres, admin_url, url)
    return url


def drop_postgres(admin_url: str, url: str) -> None:
    """The bench's own database goes, with any connection a server left open to it."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        name = url.rsplit("/", 1)[1]
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def analyze(database_url: str) -> None:
    """PostgreSQL's statistics of a freshly seeded database, as autovacuum keeps them on a
    running one: without them the planner knows nothing of the seeded rows and may pick a
    plan that reads a store's every cart where an index finds the person's (SQLite: nothing)."""
    if not database_url.startswith("postgresql"):
        return
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user and system) a process has used so far; None without Linux's /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(
    served: tuple[str, int],
    requests: list[Prepared],
    seconds: float,
    python: bool,
    rate: float | None = None,
) -> LoadResult:
    """One run of the load generator, with the server's CPU per request where /proc tells
    it: the server's own share of what a ratio compares."""
    base, pid = served
    before = cpu_seconds(pid)
    if wrk_available() and not python:
        result = run_wrk(
            base, requests, connections=CONNECTIONS, seconds=seconds, threads=2, rate=rate
        )
    else:
        result = run_python(base, requests, connections=CONNECTIONS, rate=rate)
    after = cpu_seconds(pid)
    if before is None or after is None or not result.requests:
        return result
    return replace(result, server_cpu_ms=(after - before) * 1000 / result.requests)


def warm_up(served: tuple[str, int], args: argparse.Namespace) -> None:
    """A short run of other checkouts before the measured ones, the same for every server: the
    measured runs start with the connections, caches and prepared statements of a server that
    has been answering for a while."""
    if args.warm_up > 0:
        load(served, prepared_checkouts(args.checkouts), args.warm_up, args.python)


def settle(
    served: tuple[str, int], args: argparse.Namespace, *, applies: bool, database_url: str | None
) -> None:
    """The warm-up, then what a running server has after it. Where the server applies
    deliveries itself, each measured run starts once the backlog before it is applied: it
    measures a steady load, not the catching up after a burst.

    On PostgreSQL the warm-up is followed by ANALYZE, what autovacuum does within a minute of
    the first deliveries on a running server: a database that has never been analyzed has no
    statistics, and its planner may look a repeated delivery up through the store's index of
    deliveries (every row of the store) instead of the unique index of its key."""
    warm_up(served, args)
    if applies:
        wait_for_applied(served[0])
    if database_url:
        analyze(database_url)


def half_rate(served: tuple[str, int], top: float, args: argparse.Namespace) -> LoadResult:
    """Latency at half of the server's maximum rate (`top`), with checkouts not sent before."""
    half = top / 2
    paced = prepared_checkouts(max(200, int(half * args.seconds)) // 2)
    return load(served, paced, args.seconds, args.python, half)


def wait_for_applied(base: str, limit: float = 300.0) -> float:
    """Seconds until no delivery is left to apply (`received`), read through the API."""
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    while time.monotonic() - started < limit:
        pending = httpx.get(
            f"{base}/api/deliveries", params={"status": "received", "limit": 1}, headers=headers
        )
        pending.raise_for_status()
        if not pending.json():
            break
        time.sleep(0.5)
    return time.monotonic() - started


def verdicts(turns: dict[str, list[LoadResult]], halves: dict[str, LoadResult]) -> list[str]:
    lines = []
    for label, target in ((SQLITE, 0.3), (POSTGRES, 0.5)):
        if label not in turns:
            continue
        ratio = statistics.median(ratios(turns, label))
        top = statistics.median(result.rate for result in turns[label])
        half = halves[label]
        p99 = half.p99_ms if half.p99_ms is not None else float("inf")
        failed = sum(result.non_2xx for result in turns[label]) + half.non_2xx
        kept_up = half.rate >= 0.95 * top / 2  # else the p99 is not at half rate
        met = ratio >= target and p99 < 50 and failed == 0 and kept_up
        lines.append(
            f"  {label:<31} ratio {ratio:.2f} (median of {len(turns[label])}; target >= "
            f"{target}), p99 at half rate {p99:.1f} ms (< 50; {half.rate:.0f} of {top / 2:.0f}/s "
            f"sent), non-2xx {failed} (0): {'met' if met else 'NOT met'}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--checkouts", type=int, default=2000, help="distinct checkouts")
    postgres_option(parser, skippable=True)
    parser.add_argument(
        "--warm-up", type=float, default=3.0, help="seconds of other checkouts before each run"
    )
    parser.add_argument("--python", action="store_true", help="use the Python generator")
    parser.add_argument(
        "--turns", type=int, default=3, help="measured runs of each server, in rotation"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory() as name, ExitStack() as servers:
        folder = Path(name)
        (folder / "empty_app.py").write_text(EMPTY_APP)
        # label → (base URL and pid, applies its deliveries itself)
        running: dict[str, tuple[tuple[str, int], bool]] = {}

        port = free_port()
        empty = [sys.executable, "-m", "uvicorn", "empty_app:app", "--port", str(port)]
        quiet = [*empty, "--log-level", "warning", "--no-access-log"]
        served = servers.enter_context(server(quiet, port, folder))
        settle(served, args, applies=False, database_url=None)
        running[EMPTY] = served, False

        command, port, _ = cartback(folder, f"sqlite:///{folder / 'bench.db'}")
        served = servers.enter_context(server(command, port, folder))
        settle(served, args, applies=True, database_url=None)
        running[SQLITE] = served, True

        if args.postgres:
            database = fresh_postgres(args.postgres)
            command, port, config = cartback(folder, database, "--no-worker")
            migrate = [sys.executable, "-m", "cartback.cli", "migrate", "--config", str(config)]
            subprocess.run(migrate, check=True, capture_output=True)
            served = servers.enter_context(server(command, port, folder))
            settle(served, args, applies=False, database_url=database)
            running[POSTGRES] = served, False

        turns: dict[str, list[LoadResult]] = {label: [] for label in running}
        for _ in range(args.turns):
            for label, (served, applies) in running.items():
                turns[label].append(
                    load(served, prepared_checkouts(args.checkouts), args.seconds, args.python)
                )
                if applies:
                    drained = wait_for_applied(served[0])
                    print(f"  {label}: backlog applied in {drained:.0f} s", file=sys.stderr)
        halves = {
            label: half_rate(served, statistics.median(r.rate for r in turns[label]), args)
            for label, (served, _applies) in running.items()
            if label != EMPTY
        }

    print(
        f"webhook ingest, {args.checkouts} checkouts x 2 deliveries, {CONNECTIONS} connections, "
        f"{args.turns} turns of {args.seconds:.0f} s in rotation; {os.cpu_count()} CPUs, load "
        f"average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print("\n".join(report_lines(turns, halves)))
    print("targets:")
    print("\n".join(verdicts(turns, halves)))


def ratios(turns: dict[str, list[LoadResult]], label: str) -> list[float]:
    """Each turn's rate over the empty handler's in the same turn (run just before it)."""
    return [
        result.rate / base.rate if base.rate else 0.0
        for result, base in zip(turns[label], turns[EMPTY], strict=True)
    ]


def report_lines(turns: dict[str, list[LoadResult]], halves: dict[str, LoadResult]) -> list[str]:
    """Per server: each turn, then the median of its turns' ratios; then its half-rate run."""
    lines = []
    for label, results in turns.items():
        each = ratios(turns, label)
        for number, (result, ratio) in enumerate(zip(results, each, strict=True), 1):
            lines.append(f"  {label + f', turn {number}':<42} {result.line()}  ratio {ratio:.2f}")
            lines[-1] += _cpu(result)
        if label != EMPTY:
            median = statistics.median(each)
            lines.append(f"  {label + ', median':<42} ratio {median:.2f} (of the turns' ratios)")
            half = halves[label]
            lines.append(f"  {label + ', half rate':<42} {half.line()}{_cpu(half)}")
    return lines


def _cpu(result: LoadResult) -> str:
    cpu = result.server_cpu_ms
    return f"  server CPU {cpu:.2f} ms/request" if cpu is not None else ""


if __name__ == "__main__":
    main()
