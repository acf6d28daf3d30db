"""Cost in stored data: a scheduler tick, a worker's memory and a month's report with 10,000
and with 1,000,000 stored carts (each with its run, delivery, and for most a message and for a
third an order), on PostgreSQL. The same 50 runs are due each time: a flat cost is a ratio ~1.

Seeded with bulk SQL (generate_series). Prints each figure, the ratios, and at the larger size
the query plans (EXPLAIN) of the tick's claim and of every query the report makes.

    python bench/flat_cost.py [--small 10000] [--large 1000000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingest import fresh_postgres
from sqlalchemy import Engine, event, text

from cartback.engine.report import report
from cartback.store import migrate
from cartback.store.db import connect
from cartback.store.sql import SqlStore

DUE = 50
# The last 30 days hold the smaller size's carts every time; the rest are older (spread over
# DAYS before them): a month's report reads the same month whatever is stored besides.
DAYS = 700

SEED = """
INSERT INTO carts (store_id, cart_key, email, phone, currency, total, items, discount_codes,
                   status, occurred_at, last_activity_at, created_at, updated_at, abandoned_at)
SELECT 'bench', 'c' || g, 'p' || g || '@example.com', '+4520' || lpad((g % 1000000)::text, 6, '0'),
       'DKK', 100, '[]', '[]',
       CASE g % 3 WHEN 0 THEN 'purchased' WHEN 1 THEN 'abandoned' ELSE 'open' END,
       t, t, t, t, CASE WHEN g % 3 <> 2 THEN t END
FROM (SELECT g, CASE WHEN g <= :recent
                     THEN :now - make_interval(secs => (g * 7919) % (30 * 86400))
                     ELSE :now - interval '30 days'
                          - make_interval(secs => (g * 7919) % (:days * 86400)) END AS t
      FROM generate_series(1, :n) g) s;

INSERT INTO runs (cart_id, flow_id, step_index, status, next_run_at, created_at, updated_at)
SELECT id, 'cart-sms', CASE WHEN id <= :due THEN -1 ELSE 0 END,
       CASE WHEN id <= :due THEN 'pending' ELSE 'done' END,
       CASE WHEN id <= :due THEN :now - interval '1 minute' END, created_at, updated_at
FROM carts;

INSERT INTO deliveries (platform, store_id, topic, delivery_key, received_at, headers, body,
                        status, attempts, processed_at)
SELECT 'shopify', 'bench', 'checkouts/update', 'd' || id, created_at, '{}', '\\x7b7d',
       'processed', 1, created_at
FROM carts;

INSERT INTO messages (id, store_id, cart_id, channel, provider, recipient, body, segments, cost,
                      currency, status, attempts, created_at, sent_at)
SELECT 'm' || id, 'bench', id, 'sms', 'outbox', phone, 'Your basket is saved', 1, 0.30, 'DKK',
       'sent', 1, created_at + interval '30 minutes', created_at + interval '30 minutes'
FROM carts WHERE status <> 'open';

INSERT INTO decisions (cart_id, run_id, flow_id, step_index, at, action, reason, detail)
SELECT c.id, r.id, 'cart-sms', -1, c.abandoned_at, 'abandon', 'abandoned', 'No update: abandoned.'
FROM carts c JOIN runs r ON r.cart_id = c.id WHERE c.abandoned_at IS NOT NULL;

INSERT INTO decisions (cart_id, run_id, flow_id, step_index, at, action, reason, detail)
SELECT c.id, r.id, 'cart-sms', 0, c.created_at, 'skip', 'no_consent', 'No consent on record.'
FROM carts c JOIN runs r ON r.cart_id = c.id WHERE c.status = 'open';

INSERT INTO orders (store_id, order_key, cart_id, currency, total, discount_total, paid,
                    placed_at, received_at, recovered, status)
SELECT 'bench', 'o' || id, id, 'DKK', 250, 0, true, created_at + interval '2 hours',
       created_at + interval '2 hours', id % 2 = 0, 'open'
FROM carts WHERE status = 'purchased';
"""

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
    steps:
      - send: sms
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


def seed(engine: Engine, carts: int, recent: int, now: datetime) -> None:
    names = "carts, runs, deliveries, messages, orders, decisions"
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        for statement in SEED.split(";"):
            if statement.strip():
                values = {"now": now, "days": DAYS, "n": carts, "due": DUE, "recent": recent}
                conn.execute(text(statement), values)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def restore_due(engine: Engine, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE runs SET status = 'pending', step_index = -1, claim_token = NULL, "
                "next_run_at = :due WHERE cart_id <= :n"
            ),
            {"due": now - timedelta(minutes=1), "n": DUE},
        )


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


def report_seconds(engine: Engine, now: datetime, repeats: int = 3) -> float:
    store = SqlStore(engine)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        report(store, [("bench", "DKK")], now - timedelta(days=30))
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def worker_rss_mb(url: str, folder: Path, now: datetime, engine: Engine) -> float:
    restore_due(engine, now)
    config = folder / "flat.yaml"
    config.write_text(CONFIG.format(url=url, outbox=folder / "outbox.jsonl"))
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(config)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.split()[-1]) / 1024


def plans(engine: Engine, now: datetime) -> list[tuple[str, str]]:
    """EXPLAIN of the tick's claim and of each query of a month's report."""
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")):
            seen.append((statement, parameters))

    restore_due(engine, now)
    event.listen(engine, "before_cursor_execute", keep)
    try:
        SqlStore(engine).claim_due(now, 100, timedelta(minutes=5))
        report(SqlStore(engine), [("bench", "DKK")], now - timedelta(days=30))
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    out = []
    with engine.connect() as conn:
        for statement, parameters in seen:
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
            out.append((" ".join(statement.split())[:160], "\n".join(r[0] for r in rows)))
        conn.rollback()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CARTBACK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    url = fresh_postgres(args.postgres)
    engine = connect(url)
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    figures: dict[int, tuple[float, float, float, float]] = {}
    with tempfile.TemporaryDirectory() as name:
        for carts in (args.small, args.large):
            started = time.perf_counter()
            seed(engine, carts, args.small, now)
            seeded = time.perf_counter() - started
            tick = tick_seconds(engine, now)
            month = report_seconds(engine, now)
            rss = worker_rss_mb(url, Path(name), now, engine)
            figures[carts] = (tick, month, rss, seeded)
            print(
                f"{carts:>9,} carts (seeded in {seeded:.0f} s): tick {tick * 1000:.2f} ms, "
                f"report for a month {month * 1000:.0f} ms, worker RSS {rss:.0f} MB",
                flush=True,
            )
        shown = plans(engine, now)
    small, large = figures[args.small], figures[args.large]
    print(
        f"ratios {args.large:,} / {args.small:,}: tick x{large[0] / small[0]:.2f}, "
        f"report x{large[1] / small[1]:.2f}, worker RSS x{large[2] / small[2]:.2f} "
        f"(targets <= 1.2; report well under 1 s); load average {os.getloadavg()[0]:.1f}"
    )
    print(f"query plans at {args.large:,} carts:")
    for statement, plan in shown:
        print(f"-- {statement}")
        print("   " + plan.replace("\n", "\n   "))
    engine.dispose()


if __name__ == "__main__":
    main()
