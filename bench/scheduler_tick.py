"""How a scheduler tick's cost depends on stored carts versus due carts.

The claim statement should cost the same with 1,000 or 100,000 stored runs when the number of due
runs is the same (the partial index on `next_run_at` of pending runs). Prints figures and ratios
measured in one run; no thresholds, since shared machines are noisy.

    python bench/scheduler_tick.py [--postgres URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, insert, text

from cartback.store import migrate
from cartback.store.db import connect
from cartback.store.sql import SqlStore
from cartback.store.tables import carts, metadata, runs

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
DUE = 50
DUE_QUERY = (
    "SELECT id FROM runs WHERE status='pending' AND next_run_at <= now() "
    "ORDER BY next_run_at LIMIT 100"
)


def fill(engine: Engine, stored: int) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        cart_rows = [_cart(n) for n in range(stored)]
        for start in range(0, stored, 5000):
            conn.execute(insert(carts), cart_rows[start : start + 5000])
        run_rows = [_run(n + 1, due=n < DUE, done=n % 3 == 0 and n >= DUE) for n in range(stored)]
        for start in range(0, stored, 5000):
            conn.execute(insert(runs), run_rows[start : start + 5000])


def _cart(n: int) -> dict[str, object]:
    return {
        "store_id": "bench",
        "cart_key": f"c{n}",
        "currency": "DKK",
        "total": Decimal("100.00"),
        "items": [],
        "discount_codes": [],
        "status": "open",
        "occurred_at": NOW,
        "last_activity_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _run(cart_id: int, *, due: bool, done: bool) -> dict[str, object]:
    later = NOW + timedelta(hours=1 + cart_id % 48)
    return {
        "cart_id": cart_id,
        "flow_id": "f",
        "step_index": -1,
        "status": "done" if done else "pending",
        "next_run_at": None if done else (NOW - timedelta(minutes=1) if due else later),
        "created_at": NOW,
        "updated_at": NOW,
    }


def time_claims(engine: Engine, repeats: int) -> float:
    """Median seconds to claim the due runs, restoring them between repeats."""
    samples = []
    for _ in range(repeats):
        with engine.begin() as conn:
            conn.execute(
                runs.update().where(runs.c.id <= DUE).values(next_run_at=NOW - timedelta(minutes=1))
            )
        started = time.perf_counter()
        claimed = SqlStore(engine).claim_due(NOW, 100, timedelta(minutes=5))
        samples.append(time.perf_counter() - started)
        assert len(claimed) == DUE, len(claimed)
    return statistics.median(samples)


def plan(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        sql = f"EXPLAIN QUERY PLAN {DUE_QUERY.replace('now()', ':t')}"
        rows = engine.connect().execute(text(sql), {"t": "2026-11-29 12:00:00"}).all()
        return "; ".join(str(r[-1]) for r in rows)
    sql = f"EXPLAIN {DUE_QUERY}"
    return "; ".join(r[0] for r in engine.connect().execute(text(sql)).all())


def bench(engine: Engine, label: str) -> None:
    migrate.upgrade(engine)
    figures = {}
    for stored in (1_000, 100_000):
        fill(engine, stored)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        figures[stored] = time_claims(engine, repeats=15)
        print(
            f"{label}: {stored:>7,} stored runs, {DUE} due: claim {figures[stored] * 1000:.2f} ms"
        )
    ratio = figures[100_000] / figures[1_000]
    print(f"{label}: 100x more stored runs -> claim time x{ratio:.2f} (flat is ~1)")
    print(f"{label}: plan: {plan(engine)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="a PostgreSQL URL to an empty, disposable database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = connect(f"sqlite:///{Path(tmp) / 'bench.db'}")
        bench(engine, "sqlite")
        engine.dispose()
    if args.postgres:
        engine = connect(args.postgres)
        bench(engine, "postgresql")
        engine.dispose()


if __name__ == "__main__":
    main()
