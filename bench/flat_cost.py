"""Cost in stored data: a scheduler tick, a worker's memory, a month's report and the first
pages of the lists with 10,000 and with 1,000,000 stored carts (each with its run, delivery and
decisions; most with an assignment, a message and a link, some clicked; a third with an order),
on PostgreSQL or SQLite. The same 50 runs are due and the same month is reported each time: a
flat cost is a ratio ~1.

Seeded in bulk by the database (`bench/flat_seed.py`). Prints each figure, the seeding time, the
ratios, and at the larger size the query plans (PostgreSQL `EXPLAIN ANALYZE`, SQLite
`EXPLAIN QUERY PLAN`) of the tick's claim, of every query the report makes and of the lists.

    python bench/flat_cost.py [--small 10000] [--large 1000000] [--postgres URL | --sqlite]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flat_seed import DUE, seed
from ingest import drop_postgres, fresh_postgres, postgres_option
from sqlalchemy import Engine, event, text

from cartback.config import load_config
from cartback.domain.records import DeliveryStatus
from cartback.engine.measuring import Scope
from cartback.engine.report import report
from cartback.store import migrate
from cartback.store.db import connect
from cartback.store.sql import SqlStore

CONFIG = """\
database_url: {url}
api_token: bench-token
stores:
  - id: bench
    platform: shopify
    shop_domain: bench.myshopify.com
    webhook_secret: bench-secret
    name: Bench
    timezone: Europe/Copenhagen
    default_country: DK
    currency: DKK
channels:
  sms: {{provider: outbox, path: {outbox}, sender: Bench}}
flows:
  - id: cart-sms
    store: bench
    abandon_after: 30m
    holdout: 10%
    steps:
      - send: sms
        variants:
          - {{name: a, template: "Your basket is saved: {{{{ link }}}}"}}
          - {{name: b, template: "Still thinking it over? {{{{ link }}}}"}}
"""

# A tick takes a couple of milliseconds, where one stray wake-up of the machine weighs a third:
# it is sampled a few times in each turn (the report and the lists once).
TICKS_PER_TURN = 5

WORKER = """
import resource, sys
from cartback.config import load_config
from cartback.runtime import build
runtime = build(load_config(sys.argv[1], environ={}))
for _ in range(3):
    runtime.worker.run_once()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def restore_due(engine: Engine, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE runs SET status = 'pending', step_index = -1, claim_token = NULL, "
                "next_run_at = :due WHERE cart_id <= :n"
            ),
            {"due": _when(engine, now - timedelta(minutes=1)), "n": DUE},
        )


def _when(engine: Engine, at: datetime) -> Any:
    """A time as the raw statement needs it (SQLite keeps naive UTC text)."""
    if engine.dialect.name == "postgresql":
        return at
    return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def tick_once(engine: Engine, now: datetime) -> float:
    restore_due(engine, now)
    started = time.perf_counter()
    claimed = SqlStore(engine).claim_due(now, 100, timedelta(minutes=5))
    took = time.perf_counter() - started
    if len(claimed) != DUE:
        raise RuntimeError(f"claimed {len(claimed)}, not {DUE}")
    return took


def month_report(engine: Engine, now: datetime, scope: Scope) -> Any:
    return report(SqlStore(engine), [("bench", "DKK")], now - timedelta(days=30), scope)


def activity(engine: Engine, now: datetime) -> None:
    """What the dashboard's front page reads besides the report."""
    with SqlStore(engine).reading() as tx:
        tx.reports.activity(["bench"], now - timedelta(days=30))


def lists(engine: Engine, stored: int) -> None:
    """What `/api/carts`, `/api/messages` and `/api/deliveries` ask: a page, the next one (by
    the last row seen) and a page deep in the list (after the cart in the middle by id); and
    the deliveries of another store of the database, which has none (a new shop of an agency,
    asked with its own token); and the failed deliveries (three in a hundred, the first stored)."""
    with SqlStore(engine).reading() as tx:
        tx.carts.page(store_id="bench", status=None, limit=100, offset=0, after=stored // 2)
        for status in (None, "abandoned"):
            carts = tx.carts.page(store_id="bench", status=status, limit=100, offset=0)
            after = carts[-1].id
            tx.carts.page(store_id="bench", status=status, limit=100, offset=0, after=after)
        sent = tx.messages.page(store_id="bench", status=None, limit=100, offset=0)
        tx.messages.page(store_id="bench", status=None, limit=100, offset=0, after=sent[-1].id)
        found = tx.deliveries.listing(status=None, store_id="bench", limit=100)
        tx.deliveries.listing(status=None, store_id="bench", limit=100, after=found[-1].id)
        tx.deliveries.listing(status=None, store_id="new-shop", limit=100)
        tx.deliveries.listing(status=DeliveryStatus.FAILED, store_id=None, limit=100)


def timed(run: Callable[[], object], cpu: list[float] | None = None) -> float:
    """Seconds `run` took; `cpu` gets the seconds of CPU this process spent on it (what a
    busy machine's other work does not add to; PostgreSQL's own work is not in it)."""
    started, used = time.perf_counter(), time.process_time()
    run()
    if cpu is not None:
        cpu.append(time.process_time() - used)
    return time.perf_counter() - started


def worker_rss_mb(config: Path, now: datetime, engine: Engine) -> float:
    restore_due(engine, now)
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(config)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"the worker failed: {done.stderr.strip().splitlines()[-1:]}")
    return int(done.stdout.split()[-1]) / 1024


def plans(
    engine: Engine, run: Callable[[], object], before: Callable[[], object] = lambda: None
) -> list[tuple[str, str]]:
    """The plan of each reading statement `run` makes, explained (in a transaction rolled
    back) once `before` has put the data back as `run` found it."""
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH", "SET")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    before()
    pg = engine.dialect.name == "postgresql"
    out = []
    with engine.connect() as conn:
        for statement, parameters in seen:
            if statement.startswith("SET") or "set_config(" in statement:
                # a setting of the transaction, as the code made it
                conn.exec_driver_sql(statement, parameters)
                out.append((statement, "(set)"))
                continue
            explain = "EXPLAIN (ANALYZE, COSTS OFF) " if pg else "EXPLAIN QUERY PLAN "
            rows = conn.exec_driver_sql(explain + statement, parameters).all()
            lines = [r[0] for r in rows] if pg else [f"{r[1]}>{r[0]} {r[3]}" for r in rows]
            out.append((" ".join(statement.split())[:200], "\n".join(lines)))
        conn.rollback()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7, help="samples of each figure")
    parser.add_argument("--sqlite", action="store_true", help="SQLite files instead")
    postgres_option(parser)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    sizes = (args.small, args.large)
    urls: list[str] = []
    engines: list[Engine] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        try:
            for carts in sizes:
                url = (
                    f"sqlite:///{folder / f'flat-{carts}.db'}"
                    if args.sqlite
                    else fresh_postgres(args.postgres)
                )
                urls.append(url)
                engines.append(connect(url))
                migrate.upgrade(engines[-1])
            bench = Bench(folder, now, args.small, args.rounds)
            bench.run(dict(zip(sizes, engines, strict=True)), dict(zip(sizes, urls, strict=True)))
        finally:
            for engine in engines:
                engine.dispose()
            for url in urls if not args.sqlite else ():
                drop_postgres(args.postgres, url)


class Bench:
    """Both sizes stored side by side, each figure sampled in turns (small, large, small, …):
    a load that comes and goes on a shared machine then weighs on both alike."""

    def __init__(self, folder: Path, now: datetime, recent: int, rounds: int) -> None:
        self.folder, self.now, self.recent, self.rounds = folder, now, recent, rounds

    def run(self, engines: dict[int, Engine], urls: dict[int, str]) -> None:
        print(f"{next(iter(engines.values())).dialect.name}; load average {_load()}", flush=True)
        configs = {carts: self.config(carts, url) for carts, url in urls.items()}
        settings = load_config(next(iter(configs.values())), environ={})
        scope = Scope(window=settings.attribution.click_window, flows=settings.domain_flows())
        for carts, engine in engines.items():
            started = time.perf_counter()
            seed(engine, carts, self.recent, self.now)
            print(f"{carts:>9,} carts seeded in {time.perf_counter() - started:.0f} s", flush=True)
        samples: dict[int, list[list[float]]] = {carts: [[], [], [], []] for carts in engines}
        for _ in range(self.rounds):
            for carts, engine in engines.items():
                tick, month, listed, cpu = samples[carts]
                tick.extend(tick_once(engine, self.now) for _ in range(TICKS_PER_TURN))
                month.append(timed(lambda e=engine: month_report(e, self.now, scope), cpu))
                listed.append(timed(lambda e=engine, n=carts: lists(e, n)))
        figures = {}
        for carts, engine in engines.items():
            medians = [statistics.median(each) for each in samples[carts]]
            figures[carts] = (*medians, worker_rss_mb(configs[carts], self.now, engine))
            tick, month, listed, cpu, rss = figures[carts]
            print(
                f"{carts:>9,} carts: tick {tick * 1000:.2f} ms, report for a month of "
                f"{self.recent:,} carts {month * 1000:.0f} ms (CPU here {cpu * 1000:.0f} ms), "
                f"lists {listed * 1000:.1f} ms, worker RSS {rss:.0f} MB"
            )
        small, large = sorted(engines)
        s, g = figures[small], figures[large]
        print(
            f"ratios {large:,} / {small:,}: tick x{g[0] / s[0]:.2f}, report x{g[1] / s[1]:.2f}, "
            f"lists x{g[2] / s[2]:.2f}, worker RSS x{g[4] / s[4]:.2f} (targets <= 1.2; report "
            f"well under 1 s); medians of {self.rounds} turns ({TICKS_PER_TURN} ticks each); "
            f"load average {_load()}"
        )
        self.show_plans(engines[large], large, scope)

    def config(self, carts: int, url: str) -> Path:
        path = self.folder / f"flat-{carts}.yaml"
        path.write_text(CONFIG.format(url=url, outbox=self.folder / f"outbox-{carts}.jsonl"))
        return path

    def show_plans(self, engine: Engine, carts: int, scope: Scope) -> None:
        print(f"query plans at {carts:,} carts:")
        restore_due(engine, self.now)
        due = lambda: restore_due(engine, self.now)  # noqa: E731
        runs = (
            ("tick", lambda: SqlStore(engine).claim_due(self.now, 100, timedelta(minutes=5))),
            ("report", lambda: month_report(engine, self.now, scope)),
            ("dashboard's activity", lambda: activity(engine, self.now)),
            ("lists", lambda: lists(engine, carts)),
        )
        for title, run in runs:
            print(f"== {title}")
            for statement, plan in plans(engine, run, due):
                print(f"-- {statement}")
                print("   " + plan.replace("\n", "\n   "))


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


if __name__ == "__main__":
    main()
