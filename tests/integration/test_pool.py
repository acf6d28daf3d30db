"""The PostgreSQL pool checks a connection before lending it only when it lay unused for a
while (`store/db.py`, `_check_when_idle`): no round trip per transaction under load, and a
server-side end of an idle connection costs a new connection, not a failed transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from cartback.domain.records import NewDelivery
from cartback.store.db import IDLE_CHECK, connect
from cartback.store.sql import SqlStore

pytestmark = pytest.mark.postgres


class Watched:
    """A pool on a fake idle clock, counting the checks it makes."""

    def __init__(self, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        self.engine = connect(url, idle_clock=lambda: self.now)
        self.checks = 0
        ping: Callable[[Any], bool] = self.engine.dialect.do_ping

        def counted(dbapi_conn: Any) -> bool:
            self.checks += 1
            return ping(dbapi_conn)

        monkeypatch.setattr(self.engine.dialect, "do_ping", counted)

    def backend(self) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.fixture
def watched(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Watched]:
    pool = Watched(postgres_url, monkeypatch)
    yield pool
    pool.engine.dispose()


def end_on_the_server(url: str, pid: int) -> None:
    admin: Engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_a_connection_in_steady_use_is_lent_without_a_check(watched: Watched) -> None:
    first = watched.backend()
    for _ in range(5):
        watched.now += IDLE_CHECK / 2
        assert watched.backend() == first
    assert watched.checks == 0


def test_an_idle_connection_ended_by_the_server_is_replaced_before_it_is_lent(
    watched: Watched, postgres_url: str
) -> None:
    first = watched.backend()
    end_on_the_server(postgres_url, first)
    watched.now += IDLE_CHECK + 1
    replaced = watched.backend()  # no error: the check found it gone
    assert replaced != first
    assert watched.checks == 1


def test_a_connection_ended_moments_after_use_fails_one_transaction_then_the_pool_recovers(
    watched: Watched, postgres_url: str
) -> None:
    # The trade-off of checking only idle connections: the next transaction on it fails (the
    # engine retries: the recorder, the worker's lease), and every older connection is replaced.
    first = watched.backend()
    end_on_the_server(postgres_url, first)
    with pytest.raises(OperationalError):
        watched.backend()
    assert watched.backend() != first
    assert watched.checks == 0


def test_a_connection_that_stored_deliveries_on_its_own_goes_back_to_transactions(
    postgres_url: str,
) -> None:
    """`record_deliveries` lends a connection in autocommit; the next transaction on that same
    connection still rolls back."""
    store = SqlStore.connect(postgres_url)
    delivery = NewDelivery(
        platform="shopify",
        store_id="pool",
        topic="checkouts/create",
        delivery_key="pool-1",
        headers={},
        body=b"{}",
        received_at=datetime(2026, 12, 1, tzinfo=UTC),
        sequence_key="pool:a",
    )
    with store.reading() as tx:
        pid = tx.conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    [(kept, _)] = store.record_deliveries([delivery])
    with pytest.raises(RuntimeError), store.transaction() as tx:
        assert tx.conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid
        tx.deliveries.record(replace(delivery, delivery_key="pool-2"))
        raise RuntimeError("rolled back")
    with store.reading() as tx:
        assert tx.deliveries.get(kept) is not None
        assert tx.deliveries.processed_keys("shopify", "pool", ["pool-2"]) == set()
        assert tx.deliveries.get(kept + 1) is None
    store.close()
