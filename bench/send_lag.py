"""Due->sent lag of two workers on PostgreSQL while runs come due at a steady rate.

Seeds carts through the real ingest, then spreads their runs' due times at `--rate` a second
from a moment just after two worker processes (each `cartback worker`'s loop, a fake gateway
taking 200 ms per call) are ready. When every message is out, it reads the lag from the rows
(the message's `sent_at` minus the due time the bench gave its run) and checks exactly-once:
one message per run, one gateway call per message id across both workers. It also prints the
CPU each SMS cost while they sent: the two worker processes', and that of the PostgreSQL server
processes working for the bench's database (read from /proc), with the rate the machine's CPUs
could send at that cost: the ceiling the lag meets when due runs come faster.
Target: p99 <= poll interval + 1 s at 500 due/s.

Before the measured runs the workers send `--warm-up` seconds' worth of others (due at once),
then the bench ANALYZEs, as the worker's `statistics` job and autovacuum keep a running
database: the measure is of a shop that has sent messages before, not of a database's first
seconds, whose plans are made from empty tables (see README, Performance).

    python bench/send_lag.py [--rate 500] [--seconds 10] [--concurrency 64] [--poll 1] [--lanes N]
                             [--warm-up 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from ingest import DOMAIN, SECRET, analyze, cpu_seconds, fresh_postgres, postgres_option
from send import CONFIG, SlowGateway, checkouts
from sqlalchemy import create_engine, text

from cartback.config import load_config
from cartback.domain.events import Channel
from cartback.runtime import build, prepare_database, worker_thread

FAR = timedelta(days=1)  # seeded runs wait here until the workers are ready


def write_config(folder: Path, database_url: str, args: argparse.Namespace) -> Path:
    config = folder / "lag.yaml"
    text_ = CONFIG.format(
        database_url=database_url,
        domain=DOMAIN,
        secret=SECRET,
        folder=folder,
        concurrency=args.concurrency,
        batch=args.concurrency * 2,
    )
    text_ = text_.replace("worker:\n", f"worker:\n  poll_interval: {args.poll}s\n")
    if args.lanes is not None:
        text_ += f"database_lanes: {args.lanes}\n"
    config.write_text(text_)
    return config


def work(config: Path, latency: float, ready: Event, stop: Event, sent: Any) -> None:
    """One worker process: the runtime with the slow fake gateway, on the worker's own loop."""
    gateway = RecordingGateway(latency)
    runtime = build(load_config(config, environ={}), gateways={Channel.SMS: gateway})
    prepare_database(runtime, auto_migrate=False)
    thread = worker_thread(runtime)
    thread.start()
    ready.set()
    stop.wait()
    thread.stop()
    thread.join()
    runtime.store.close()
    sent.put(gateway.ids)


class RecordingGateway(SlowGateway):
    """The slow fake, keeping the id of every message it was asked to send."""

    def __init__(self, latency: float) -> None:
        super().__init__(latency)
        self.ids: list[str] = []

    def send(self, message: Any) -> Any:
        result = super().send(message)
        with self.lock:
            self.ids.append(message.id)
        return result


def seed(config: Path, count: int) -> None:
    runtime = build(load_config(config, environ={}), gateways={Channel.SMS: SlowGateway(0)})
    prepare_database(runtime, auto_migrate=True)
    for start in range(0, count, 500):
        runtime.ingest.record_many(checkouts(min(500, count - start), first=start))
        runtime.deliveries.drain()
    runtime.store.close()


def run_ids(engine: Any) -> list[int]:
    with engine.connect() as conn:
        return [row.id for row in conn.execute(text("SELECT id FROM runs ORDER BY id"))]


def spread(engine: Any, ids: list[int], start: datetime, rate: float) -> dict[int, datetime]:
    """The runs `ids` due at `rate` a second from `start`, in that order."""
    with engine.begin() as conn:
        due = {run: start + timedelta(seconds=n / rate) for n, run in enumerate(ids)}
        conn.execute(
            text("UPDATE runs SET next_run_at = :due WHERE id = :id"),
            [{"id": run, "due": at} for run, at in due.items()],
        )
    return due


def sent_rows(engine: Any, runs: dict[int, datetime]) -> list[Any]:
    """The messages sent for `runs` (the measured ones, not the warm-up's)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, run_id, status, sent_at FROM messages WHERE status = 'sent'")
        )
        return [row for row in rows if row.run_id in runs]


def sent_count(engine: Any) -> int:
    with engine.connect() as conn:
        query = text("SELECT count(*) FROM messages WHERE status = 'sent'")
        return int(conn.execute(query).scalar_one())


def until_sent(engine: Any, count: int, deadline: float) -> None:
    """Until the workers have sent `count` messages in all, or `deadline` seconds went by.
    Counted, not read, while the workers send: the bench takes little of their CPU."""
    started = time.monotonic()
    while sent_count(engine) < count and time.monotonic() - started < deadline:
        time.sleep(0.2)


def backends(engine: Any) -> list[int]:
    """The PostgreSQL server processes working for the bench's database, where they run on
    this machine (a process of that id here whose command is PostgreSQL's)."""
    with engine.connect() as conn:
        query = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        pids = [int(pid) for pid in conn.execute(query).scalars()]
    return [pid for pid in pids if _command(pid).startswith("postgres")]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return ""


def cpu_of(pids: list[int]) -> dict[int, float]:
    """CPU seconds so far of the processes /proc can tell (Linux), by process id."""
    return {pid: seconds for pid in pids if (seconds := cpu_seconds(pid)) is not None}


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings; a process first seen in the second counts from 0."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500, help="runs coming due per second")
    parser.add_argument("--seconds", type=float, default=10, help="how long they keep coming")
    parser.add_argument("--concurrency", type=int, default=64, help="worker.concurrency")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per gateway call")
    parser.add_argument("--poll", type=int, default=1, help="worker.poll_interval, seconds")
    parser.add_argument("--lanes", type=int, help="database_lanes (default: the product's)")
    parser.add_argument("--deadline", type=float, default=180, help="seconds to wait at most")
    parser.add_argument(
        "--warm-up", type=float, default=2, help="seconds' worth of runs sent before measuring"
    )
    postgres_option(parser)
    args = parser.parse_args()
    count = int(args.rate * args.seconds)
    warm = int(args.rate * args.warm_up)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        database = fresh_postgres(args.postgres)
        config = write_config(folder, database, args)
        seed(config, warm + count)
        analyze(database)
        print(f"seeded {warm} + {count} carts in {database.rsplit('/', 1)[1]}", flush=True)
        engine = create_engine(database)
        ids = run_ids(engine)
        warming, measured = ids[:warm], ids[warm:]
        spread(engine, ids, datetime.now(UTC) + FAR, args.rate)
        context = mp.get_context("spawn")
        stop, sent = context.Event(), context.Queue()
        readies = [context.Event() for _ in range(2)]
        workers = [
            context.Process(target=work, args=(config, args.latency, ready, stop, sent))
            for ready in readies
        ]
        for process in workers:
            process.start()
        for ready in readies:
            ready.wait(60)
        if warming:
            spread(engine, warming, datetime.now(UTC), float("inf"))
            started = time.monotonic()
            until_sent(engine, len(warming), args.deadline)
            took = time.monotonic() - started
            print(f"warmed up: {sent_count(engine)} sent in {took:.1f} s", flush=True)
            analyze(database)
        load_before = os.getloadavg()[0]
        pids = [process.pid for process in workers if process.pid is not None]
        cpu_before = cpu_of(pids), cpu_of(backends(engine))
        due = spread(engine, measured, datetime.now(UTC) + timedelta(seconds=1), args.rate)
        until_sent(engine, warm + count, args.deadline)
        # The backends still open: a pool keeps its connections, so few if any have gone.
        cpu_after = cpu_of(pids), cpu_of(backends(engine))
        # None where /proc tells nothing (not Linux): no figure rather than a zero.
        cpu = None
        if cpu_after[0] and cpu_after[1]:
            cpu = spent(cpu_before[0], cpu_after[0]), spent(cpu_before[1], cpu_after[1])
        stop.set()
        calls = [message_id for _ in workers for message_id in sent.get(timeout=60)]
        for process in workers:
            process.join(30)
        report(args, count, due, sent_rows(engine, due), calls, load_before, cpu)
        engine.dispose()


def report(
    args: argparse.Namespace,
    count: int,
    due: dict[int, datetime],
    rows: list[Any],
    calls: list[str],
    load_before: float,
    cpu: tuple[float, float] | None,
) -> None:
    lags = [(row.sent_at - due[row.run_id]).total_seconds() for row in rows]
    per_run = Counter(row.run_id for row in rows)
    per_call = Counter(calls)
    last = max((row.sent_at for row in rows), default=None)
    span = (last - min(due.values())).total_seconds() if last else float("nan")
    print(
        f"due->sent lag, two worker processes, PostgreSQL, {count} runs due at {args.rate:.0f}/s "
        f"over {args.seconds:.0f} s, concurrency {args.concurrency} each, gateway "
        f"{args.latency * 1000:.0f} ms per call, poll interval {args.poll} s, after "
        f"{int(args.rate * args.warm_up)} warm-up runs; {os.cpu_count()} "
        f"CPUs, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(f"  sent               {len(rows)} of {count} ({len(rows) / span:.1f} SMS/s overall)")
    if lags:
        print(
            f"  lag                p50 {statistics.median(lags):.2f} s   "
            f"p99 {percentile(lags, 0.99):.2f} s   max {max(lags):.2f} s"
        )
    if rows and cpu is not None and sum(cpu) > 0:
        workers_ms, server_ms = (seconds * 1000 / len(rows) for seconds in cpu)
        print(
            f"  CPU per SMS        workers {workers_ms:.2f} ms   PostgreSQL {server_ms:.2f} ms   "
            f"(all {workers_ms + server_ms:.2f} ms; {os.cpu_count()} CPUs send at most "
            f"{(os.cpu_count() or 1) * 1000 / (workers_ms + server_ms):.0f} SMS/s at that cost)"
        )
    twice = sum(1 for n in per_run.values() if n > 1) + sum(1 for n in per_call.values() if n > 1)
    print(f"  exactly once       {'yes' if twice == 0 else f'NO: {twice} sent twice'}")
    met = bool(lags) and len(rows) == count and percentile(lags, 0.99) <= args.poll + 1
    print(f"target: p99 <= poll interval + 1 s = {args.poll + 1} s: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
