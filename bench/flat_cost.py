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
from ingest import fresh_postgres
from sqlalchemy import Engine, create_engine, event, text

from cartback.config import load_config
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


def tick_seconds(engine: Engine, now: datetime, repeats: int = 15) -> float:
    samples = []
    for _ in range(repeats):
        restore_due(engine, now)
        started = time.perf_counter()
        claimed = SqlStore(engine).claim_due(now, 100, timedelta(minutes=5))
        samples.append(time.perf_counter() - started)
        if len(claimed) != DUE:
            raise RuntimeError(f"claimed {len(claimed)}, not {DUE}")
    return statistics.median(samples)


def month_report(engine: Engine, now: datetime, scope: Scope) -> Any:
    return report(SqlStore(engine), [("bench", "DKK")], now - timedelta(days=30), scope)


def activity(engine: Engine, now: datetime) -> None:
    """What the dashboard's front page reads besides the report."""
    with SqlStore(engine).reading() as tx:
        tx.reports.activity(["bench"], now - timedelta(days=30))


def report_seconds(engine: Engine, now: datetime, scope: Scope, repeats: int = 3) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        month_report(engine, now, scope)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def lists(engine: Engine, stored: int) -> None:
    """What `/api/carts`, `/api/messages` and `/api/deliveries` ask: a page, the next one (by
    the last row seen) and a page deep in the list (after the cart in the middle by id)."""
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


def lists_seconds(engine: Engine, stored: int, repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        lists(engine, stored)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def worker_rss_mb(config: Path, now: datetime, engine: Engine) -> float:
    restore_due(engine, now)
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(config)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"the worker failed: {done.stderr.strip().splitlines()[-1:]}")
    return int(done.stdout.split()[-1]) / 1024


def plans(engine: Engine, run: Callable[[], object]) -> list[tuple[str, str]]:
    """The plan of each reading statement `run` makes (run in a rolled-back transaction)."""
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH", "SET")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    pg = engine.dialect.name == "postgresql"
    out = []
    with engine.connect() as conn:
        for statement, parameters in seen:
            if statement.startswith("SET"):  # a setting of the transaction, as the code made it
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
    parser.add_argument("--sqlite", action="store_true", help="an SQLite file instead")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CARTBACK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        url = f"sqlite:///{folder / 'flat.db'}" if args.sqlite else fresh_postgres(args.postgres)
        config = folder / "flat.yaml"
        config.write_text(CONFIG.format(url=url, outbox=folder / "outbox.jsonl"))
        settings = load_config(config, environ={})
        scope = Scope(window=settings.attribution.click_window, flows=settings.domain_flows())
        engine = connect(url)
        try:
            migrate.upgrade(engine)
            measure(engine, args.small, args.large, now, scope, config)
        finally:
            engine.dispose()
            if not args.sqlite:
                drop_postgres(args.postgres, url)


def drop_postgres(admin_url: str, url: str) -> None:
    """The bench's own database, a gigabyte and a half at a million carts, goes when it ends."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"'))
    admin.dispose()


def measure(
    engine: Engine, small: int, large: int, now: datetime, scope: Scope, config: Path
) -> None:
    figures: dict[int, tuple[float, ...]] = {}
    print(f"{engine.dialect.name}, load average {os.getloadavg()[0]:.1f}", flush=True)
    for carts in (small, large):
        started = time.perf_counter()
        seed(engine, carts, small, now)
        seeded = time.perf_counter() - started
        tick = tick_seconds(engine, now)
        month = report_seconds(engine, now, scope)
        listed = lists_seconds(engine, carts)
        rss = worker_rss_mb(config, now, engine)
        figures[carts] = (tick, month, listed, rss)
        print(
            f"{carts:>9,} carts (seeded in {seeded:.0f} s): tick {tick * 1000:.2f} ms, "
            f"report for a month {month * 1000:.0f} ms, lists {listed * 1000:.1f} ms, "
            f"worker RSS {rss:.0f} MB; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    s, g = figures[small], figures[large]
    print(
        f"ratios {large:,} / {small:,}: tick x{g[0] / s[0]:.2f}, report x{g[1] / s[1]:.2f}, "
        f"lists x{g[2] / s[2]:.2f}, worker RSS x{g[3] / s[3]:.2f} "
        f"(targets <= 1.2; report well under 1 s); load average {os.getloadavg()[0]:.1f}"
    )
    print(f"query plans at {large:,} carts:")
    restore_due(engine, now)
    runs = (
        ("tick", lambda: SqlStore(engine).claim_due(now, 100, timedelta(minutes=5))),
        ("report", lambda: month_report(engine, now, scope)),
        ("dashboard's activity", lambda: activity(engine, now)),
        ("lists", lambda: lists(engine, large)),
    )
    for title, run in runs:
        print(f"== {title}")
        for statement, plan in plans(engine, run):
            print(f"-- {statement}")
            print("   " + plan.replace("\n", "\n   "))


if __name__ == "__main__":
    main()
