"""A PostgreSQL connection keeps the statements psycopg prepared on it across the store's units
of work: a read, and /readyz's checks, end with COMMIT (a ROLLBACK makes psycopg deallocate all
of them, and the connection's next statements are parsed and planned anew)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from cartback.store.sql import SqlStore
from cartback.store.sql.reports import serial

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(postgres_url: str) -> Iterator[SqlStore]:
    sql = SqlStore.connect(postgres_url)
    yield sql
    sql.close()


def _prepared_here(store: SqlStore) -> tuple[int, int]:
    """This connection's server process and how many statements are prepared on it."""
    with store.transaction() as tx:
        query = text("SELECT pg_backend_pid(), (SELECT count(*) FROM pg_prepared_statements)")
        pid, count = tx.conn.execute(query).one()
    return int(pid), int(count)


def _use_until_prepared(store: SqlStore) -> None:
    for _ in range(8):  # psycopg prepares a statement at its fifth execution on a connection
        with store.transaction() as tx:
            tx.carts.get(1)


def test_a_read_keeps_the_connections_prepared_statements(store: SqlStore) -> None:
    _use_until_prepared(store)
    pid, before = _prepared_here(store)
    assert before >= 1
    with store.reading() as tx:
        tx.carts.get(1)  # whatever the session's other tests left there
    after_pid, after = _prepared_here(store)
    assert after_pid == pid  # the same pooled connection
    assert after >= before


def test_the_readiness_checks_keep_them_too(store: SqlStore) -> None:
    _use_until_prepared(store)
    pid, before = _prepared_here(store)
    store.ping()
    assert store.revision() is not None
    after_pid, after = _prepared_here(store)
    assert after_pid == pid
    assert after >= before


def test_a_read_that_fails_still_rolls_back(store: SqlStore) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.reading() as tx:
        tx.conn.execute(text("SELECT 1"))
        raise Boom
    with store.reading() as tx:  # the connection came back clean
        assert tx.conn.execute(text("SELECT 1")).scalar_one() == 1


def test_a_reports_reads_are_planned_for_their_values_and_in_one_process(store: SqlStore) -> None:
    settings = text(
        "SELECT current_setting('plan_cache_mode'), "
        "current_setting('max_parallel_workers_per_gather')"
    )
    with store.reading() as tx:
        default = tuple(tx.conn.execute(settings).one())
        serial(tx.conn)
        assert tuple(tx.conn.execute(settings).one()) == ("force_custom_plan", "0")
    with store.reading() as tx:  # local to the report's transaction
        assert tuple(tx.conn.execute(settings).one()) == default
