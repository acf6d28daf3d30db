"""PostgreSQL's deliveries written on the event loop (`LoopDeliveries`): the same statement and
the same answers as the recorder's threads, on a connection of the loop's own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy import Engine, select

from cartback.domain.records import NewDelivery
from cartback.store.sql import SqlStore
from cartback.store.sql.delivery_batches import LoopDeliveries
from cartback.store.tables import deliveries

T = TypeVar("T")
RECEIVED = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _delivery(key: str | None, body: bytes = b"{}") -> NewDelivery:
    return NewDelivery(
        platform="shopify",
        store_id="acme",
        topic="checkouts/update",
        delivery_key=key,
        headers={"X-Shopify-Topic": "checkouts/update"},
        body=body,
        received_at=RECEIVED,
        sequence_key=f"acme:checkout:{key}",
    )


def _run(work: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as apart:
        return apart.submit(asyncio.run, work).result(timeout=30)


def _writer(db: Engine) -> LoopDeliveries:
    writer = SqlStore(db).loop_writer()
    if db.dialect.name != "postgresql":
        assert writer is None, "SQLite's deliveries are written by the recorder's thread"
        pytest.skip("only PostgreSQL writes deliveries on the loop")
    assert isinstance(writer, LoopDeliveries)
    return writer


def test_a_batch_is_stored_in_order_with_the_answers_of_the_threads_way(db: Engine) -> None:
    writer = _writer(db)
    store = SqlStore(db)
    [(pending_id, _)] = store.record_deliveries([_delivery("pending")])
    [(done_id, _)] = store.record_deliveries([_delivery("done")])
    with db.begin() as conn:
        conn.execute(
            deliveries.update().where(deliveries.c.id == done_id).values(status="processed")
        )
    batch = [
        _delivery("a", b'{"n": 1}'),
        _delivery("pending"),
        _delivery("b", b'{"n": 2}'),
        _delivery("a", b'{"n": 3}'),
        _delivery(None, b'{"n": 4}'),
        _delivery("done"),
    ]
    try:
        kept = _run(writer.record_many(batch))
    finally:
        writer.close()
    (a, a_before), pending, (b, b_before), (a_repeat, _), (keyless, keyless_before), done = kept
    assert pending == (pending_id, False) and done == (done_id, True)
    assert a_repeat == a
    assert a < b < keyless, "new rows numbered in arrival order"
    assert not (a_before or b_before or keyless_before)
    with db.connect() as conn:
        rows = conn.execute(select(deliveries).where(deliveries.c.id > done_id).order_by("id"))
        stored = [(r.delivery_key, bytes(r.body), r.headers, r.status, r.received_at) for r in rows]
        stored_sequence = conn.execute(
            select(deliveries.c.sequence_key).where(deliveries.c.id == a)
        ).scalar()
    headers = {"X-Shopify-Topic": "checkouts/update"}
    assert stored == [
        ("a", b'{"n": 1}', headers, "received", RECEIVED),
        ("b", b'{"n": 2}', headers, "received", RECEIVED),
        (None, b'{"n": 4}', headers, "received", RECEIVED),
    ]
    assert stored_sequence == "acme:checkout:a"


def test_a_lost_connection_fails_its_batch_and_the_next_opens_another(db: Engine) -> None:
    writer = _writer(db)

    async def scenario() -> tuple[int, int]:
        [(first, _)] = await writer.record_many([_delivery("first")])
        assert writer._conn is not None
        pid = writer._conn.info.backend_pid
        with db.connect() as admin:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            admin.commit()
        with pytest.raises(psycopg.OperationalError):
            await writer.record_many([_delivery("lost")])
        assert writer._conn is None, "the broken connection was let go"
        [(later, _)] = await writer.record_many([_delivery("later")])
        assert writer._conn is not None and writer._conn.info.backend_pid != pid
        return first, later

    try:
        first, later = _run(scenario())
    finally:
        writer.close()
    assert writer._conn is None
    with db.connect() as conn:
        keys = conn.execute(select(deliveries.c.delivery_key).order_by(deliveries.c.id)).scalars()
        assert list(keys) == ["first", "later"], "the failed batch stored nothing"
    assert first < later


def test_closing_from_another_thread_after_the_loop_ended(db: Engine) -> None:
    writer = _writer(db)
    _run(writer.record_many([_delivery("one")]))
    conn = writer._conn
    assert conn is not None and not conn.closed
    pid = conn.info.backend_pid
    writer.close()
    assert conn.closed
    with db.connect() as watcher:
        for _ in range(200):
            gone = watcher.exec_driver_sql(
                f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}"
            ).scalar()
            watcher.rollback()
            if not gone:
                break
            threading.Event().wait(0.005)  # the server's own pace: polled
        assert not gone, "the server let the connection go"
