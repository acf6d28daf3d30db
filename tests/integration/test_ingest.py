"""Ingest under pressure. Shopify sends checkouts/create and checkouts/update for a new checkout
within milliseconds: both are answered 200 and make one cart. A bug while applying a delivery
(after the answer) leaves it failed, never stuck in received."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cartback.api.app import create_app
from cartback.domain.events import CartUpdated, Event
from cartback.domain.records import NewDelivery
from cartback.engine.delivery_queue import DeliveryQueue
from cartback.store.base import Tx
from cartback.store.db import writers
from cartback.store.sql import SqlStore
from cartback.store.tables import deliveries
from tests.integration.conftest import Shop, checkout_payload, make_runtime
from tests.integration.plans import planned

PAIRS = 50


def test_pairs_of_deliveries_for_one_new_checkout_at_once_make_one_cart_each(shop: Shop) -> None:
    tokens = [f"race-{n:02d}" for n in range(PAIRS)]
    posts = [
        (topic, checkout_payload(shop.clock.now(), token=token, cart_token=f"cart-{token}"))
        for token in tokens
        for topic in ("checkouts/create", "checkouts/update")
    ]
    start = threading.Barrier(len(posts))

    def post(topic: str, payload: dict[str, object]) -> int:
        start.wait(timeout=60)
        status: int = shop.post(topic, payload).status_code
        return status

    with ThreadPoolExecutor(max_workers=len(posts)) as pool:
        answers = list(pool.map(lambda item: post(*item), posts))

    assert answers == [200] * len(posts)
    carts = shop.api("/api/carts", limit=1000)
    assert sorted(cart["cart_key"] for cart in carts) == tokens
    assert {cart["update_count"] for cart in carts} == {2}  # each pair: one insert, one update
    deliveries = shop.api("/api/deliveries", limit=1000)
    assert {d["status"] for d in deliveries} == {"processed"} and len(deliveries) == len(posts)


def test_an_unexpected_error_while_applying_marks_the_delivery_failed(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("a bug while applying")

    monkeypatch.setattr(shop.runtime.ingest.applier, "apply", broken)
    answer = shop.post("checkouts/update", checkout_payload(shop.clock.now()))
    assert answer.status_code == 200 and answer.json()["status"] == "received"

    [delivery] = shop.api("/api/deliveries")
    assert delivery["status"] == "failed"
    assert delivery["error"] == "RuntimeError: a bug while applying"
    assert shop.api("/api/carts") == []  # nothing of it was applied


def test_a_carts_deliveries_are_applied_in_arrival_order_by_two_workers(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creations and updates of many carts, claimed in small batches by two workers at once:
    every cart's creation is applied before its update (a later claim waits for the first)."""
    shop.runtime.apply_after_answer = False  # the answer only stores; two workers apply
    tokens = [f"seq-{n:02d}" for n in range(12)]
    for token in tokens:
        for topic, total in (("checkouts/create", "10.00"), ("checkouts/update", "20.00")):
            payload = checkout_payload(shop.clock.now(), token=token, total_price=total)
            assert shop.post(topic, payload).json()["status"] == "received"
    assert shop.api("/api/carts") == []  # nothing applied before a worker runs

    applied: list[tuple[str, Decimal]] = []
    original = shop.runtime.ingest.applier.apply

    def recording(tx: Tx, event: Event, now: datetime) -> None:
        if isinstance(event, CartUpdated):
            applied.append((event.cart_key, event.total))
        original(tx, event, now)

    monkeypatch.setattr(shop.runtime.ingest.applier, "apply", recording)
    queue = shop.runtime.deliveries
    workers = [
        DeliveryQueue(queue.store, queue.clock, queue.ingest, queue.parser_of, batch_size=3)
        for _ in range(2)
    ]
    start = threading.Barrier(len(workers))

    def work(worker: DeliveryQueue) -> int:
        start.wait(timeout=60)
        return worker.drain()

    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        counts = list(pool.map(work, workers))

    assert sum(counts) == 2 * len(tokens)
    for token in tokens:
        assert [total for key, total in applied if key == token] == [
            Decimal("10.00"),
            Decimal("20.00"),
        ]
    deliveries = shop.api("/api/deliveries", limit=100)
    assert {d["status"] for d in deliveries} == {"processed"}
    carts = shop.api("/api/carts", limit=100)
    assert {(c["update_count"], Decimal(c["total"])) for c in carts} == {(2, Decimal("20.00"))}


def test_sqlite_writers_of_one_process_take_turns_on_the_engines_lock(tmp_path: Path) -> None:
    """SQLite's busy handler sleeps (1, 2, 5, 10 ms...) when its write lock is taken, so the
    writers of a process (a webhooks' batch, a delivery being applied, a send) queue on a lock
    of the engine's own and the next starts the moment the last commits."""
    store, other = (SqlStore.connect(f"sqlite:///{tmp_path / n}.db") for n in ("a", "b"))
    try:
        lock = writers(store.engine)
        assert lock is not None and lock is not writers(other.engine)
        order: list[str] = []
        inside, release = threading.Event(), threading.Event()

        def applying() -> None:
            with store.transaction():
                order.append("first in")
                inside.set()
                release.wait(10)
                order.append("first out")

        def batch() -> None:
            inside.wait(10)
            with store.transaction():
                order.append("second in")

        threads = [threading.Thread(target=applying), threading.Thread(target=batch)]
        for thread in threads:
            thread.start()
        inside.wait(10)
        assert not lock.acquire(blocking=False), "held while the first writes"
        release.set()
        for thread in threads:
            thread.join(10)
        assert order == ["first in", "first out", "second in"]
        assert lock.acquire(blocking=False), "free once both committed"
        lock.release()
    finally:
        store.close()
        other.close()


def test_a_repeated_delivery_is_found_through_the_unique_index_of_its_key(db: Engine) -> None:
    """The look-up of repeated delivery keys (a platform's retries; on PostgreSQL, the part of
    the batch's insert that reads the keys it skipped) reads each key's row through the unique
    index, not the store's deliveries around it: the plan, on both
    databases, with the statistics a running database has (one big store among others)."""
    received = datetime(2026, 11, 2, tzinfo=UTC)

    def row(store_id: str, n: int) -> dict[str, Any]:
        key = f"{store_id}-{n}"
        return {
            "platform": "shopify",
            "store_id": store_id,
            "delivery_key": key,
            "received_at": received,
            "headers": {},
            "body": b"{}",
            "status": "processed",
        }

    with db.begin() as conn:
        conn.execute(deliveries.insert(), [row("grown", n) for n in range(4000)])
        conn.execute(deliveries.insert(), [row(f"small-{n % 20}", n) for n in range(2000)])
    with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")  # what autovacuum does on PostgreSQL
    repeated = [
        NewDelivery(
            platform="shopify",
            store_id="grown",
            topic="checkouts/update",
            delivery_key=f"grown-{n}",
            headers={},
            body=b"{}",
            received_at=received,
            sequence_key=None,
        )
        for n in (7, 1500, 3999)
    ]
    kept, plan = planned(
        db,
        lambda: SqlStore(db).record_deliveries(repeated),
        lambda statement: statement.lstrip().startswith(("SELECT", "WITH batch")),
    )
    assert [processed for _, processed in kept] == [True, True, True]
    if db.dialect.name == "postgresql":
        conditions = [line for line in plan if "Index Cond" in line]
        assert conditions and all("delivery_key" in c for c in conditions), plan
        assert not any("Filter" in line or "Seq Scan" in line for line in plan), plan
    else:
        searches = [line for line in plan if line.startswith(("SEARCH", "SCAN"))]
        assert searches and all("delivery_key=?" in line for line in searches), plan


def _on_a_loop(store: SqlStore, batch: list[NewDelivery]) -> list[tuple[int, bool]]:
    """The batch written as a server's event loop writes it (`Store.loop_writer`)."""
    writer = store.loop_writer()
    assert writer is not None
    try:
        return asyncio.run(writer.record_many(batch))
    finally:
        writer.close()


@pytest.mark.parametrize("way", ["threads", "loop"])
@pytest.mark.parametrize("keys", [["new", "raced"], ["raced"]], ids=["batch", "alone"])
def test_a_key_stored_by_a_racing_transaction_is_found_after_the_batch(
    db: Engine, keys: list[str], way: str
) -> None:
    """PostgreSQL's batch insert reads the keys it skipped in the same statement, from the rows
    committed before it began. A key another transaction stores while the batch waits on it is
    skipped and not in that reading; the batch looks it up after, and answers with its id. A
    delivery alone takes the same statement on PostgreSQL, and so does the event loop's writer."""
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite's writers take turns: no insert waits on another's key")
    received = datetime(2026, 11, 2, tzinfo=UTC)

    def delivery(key: str) -> NewDelivery:
        return NewDelivery(
            platform="shopify",
            store_id="acme",
            topic="checkouts/update",
            delivery_key=key,
            headers={},
            body=b"{}",
            received_at=received,
            sequence_key=None,
        )

    store = SqlStore(db)
    racing = db.connect()
    try:
        racing.begin()
        row = {"platform": "shopify", "store_id": "acme", "delivery_key": "raced", "body": b"{}"}
        row.update(received_at=received, headers={}, status="received")
        raced_id = racing.execute(deliveries.insert().returning(deliveries.c.id), row).scalar()
        with ThreadPoolExecutor(max_workers=1) as pool:
            write = store.record_deliveries if way == "threads" else partial(_on_a_loop, store)
            batch = pool.submit(write, [delivery(key) for key in keys])
            with db.connect() as watcher:
                waiting = (
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND query LIKE '%%WITH batch%%'"
                )
                for _ in range(2000):  # until the batch waits on the racing key
                    if watcher.exec_driver_sql(waiting).scalar():
                        break
                    watcher.rollback()
                    threading.Event().wait(0.005)
                else:
                    pytest.fail("the batch never waited on the racing transaction's key")
            racing.commit()
            kept = batch.result(timeout=30)
    finally:
        racing.close()
    *made, (found_id, found_done) = kept
    assert found_id == raced_id and not found_done
    assert all(new_id != raced_id and not new_done for new_id, new_done in made)


def test_a_servers_event_loop_stores_its_webhooks_deliveries_on_postgresql(
    db_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL the app's loop writes the deliveries itself on a connection of its own,
    closed when the app stops; on SQLite the recorder's thread writes them."""
    runtime, clock, gateway = make_runtime(db_url, tmp_path)
    recorder = runtime.recorder
    with TestClient(create_app(runtime)) as client:
        shop = Shop(runtime, client, clock, gateway)
        answers = [shop.post("checkouts/create", shop.checkout(token=f"t{n}")) for n in range(3)]
        assert [a.json()["status"] for a in answers] == ["received"] * 3
        lane = recorder._lane
        if runtime.store.kind == "postgresql":
            assert lane is not None and recorder._threads == [], "no thread wrote"
            conn = lane.writer._conn  # type: ignore[attr-defined]
            assert conn is not None and not conn.closed
        else:
            assert lane is None and len(recorder._threads) == 1
    if runtime.store.kind == "postgresql":
        assert conn.closed and recorder._lane is None, "closed when the app stopped"
    runtime.store.close()
    ids = [a.json()["delivery_id"] for a in answers]
    assert ids == sorted(ids) and len(set(ids)) == 3
