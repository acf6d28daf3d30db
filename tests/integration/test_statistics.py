"""The worker renews the planner's statistics of tables that grew past them (PostgreSQL): a new
database filling fast is planned from its size, not from the empty tables it started with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

from cartback.jobs import STATISTICS_EVERY
from cartback.store import migrate
from cartback.store.db import connect
from cartback.store.sql import SqlStore
from cartback.store.tables import metadata
from cartback.store.upkeep import GROWN
from tests.integration.conftest import make_runtime


def _flushes_on_demand(engine: Engine) -> None:
    """The tests read row counts a session just wrote, which `pg_stat_force_next_flush()`
    (PostgreSQL 15) makes immediate; an older server reports them up to seconds later."""
    with engine.connect() as conn:
        version = int(conn.execute(text("SHOW server_version_num")).scalar_one())
    if version < 150000:
        pytest.skip("needs PostgreSQL 15's pg_stat_force_next_flush()")


@pytest.fixture
def grown_db(postgres_url: str) -> Iterator[Engine]:
    """The session's PostgreSQL database emptied, every table analyzed: no change since."""
    engine = connect(postgres_url)
    _flushes_on_demand(engine)
    names = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        conn.execute(text("ANALYZE"))
    yield engine
    engine.dispose()


def _add_suppressions(engine: Engine, first: int, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO suppressions (channel, address, reason, source, created_at) "
                "SELECT 'sms', '+45' || (20000000 + n), 'stop', 'test', now() "
                "FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n"
            ),
            {"first": first, "last": first + count - 1},
        )
        _flush(conn)


def _add_consents(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO consent_ledger (store_id, channel, address, granted, source, "
                "occurred_at, recorded_at) SELECT 'acme', 'sms', '+45' || (30000000 + n), true, "
                "'test', now(), now() FROM generate_series(1, CAST(:count AS integer)) AS n"
            ),
            {"count": count},
        )
        _flush(conn)


def _flush(conn: Connection) -> None:
    """This session's row counts reach the statistics views when it commits (not up to a
    second later)."""
    conn.execute(text("SELECT pg_stat_force_next_flush()"))


def _analyze_grown(url: str) -> list[str]:
    store = SqlStore.connect(url)
    try:
        with store.transaction() as tx:
            return tx.upkeep.analyze_grown()
    finally:
        store.close()


def _analyzed(engine: Engine, table: str) -> tuple[int, float]:
    """How many times `table` was analyzed by hand, and the rows its statistics count."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT s.analyze_count, c.reltuples FROM pg_stat_user_tables AS s "
                "JOIN pg_class AS c ON c.oid = s.relid WHERE s.relname = :table"
            ),
            {"table": table},
        ).one()
    return int(row.analyze_count), float(row.reltuples)


@pytest.mark.postgres
def test_a_table_that_grew_past_its_statistics_is_analyzed_once(
    grown_db: Engine, postgres_url: str
) -> None:
    before, _ = _analyzed(grown_db, "suppressions")
    _add_suppressions(grown_db, 1, 600)  # empty at its last ANALYZE: past GROWN
    _add_consents(grown_db, GROWN - 100)  # grew, but by less than GROWN

    assert _analyze_grown(postgres_url) == ["suppressions"]
    assert _analyzed(grown_db, "suppressions") == (before + 1, 600)
    assert _analyzed(grown_db, "consent_ledger")[1] == 0  # still the empty table's
    assert _analyze_grown(postgres_url) == []  # nothing changed since


@pytest.mark.postgres
def test_a_big_table_waits_until_it_changed_by_as_many_rows_as_it_holds(
    grown_db: Engine, postgres_url: str
) -> None:
    _add_suppressions(grown_db, 1, 2000)
    assert _analyze_grown(postgres_url) == ["suppressions"]

    _add_suppressions(grown_db, 2001, 1500)  # past GROWN, short of the 2,000 it held
    assert _analyze_grown(postgres_url) == []
    _add_suppressions(grown_db, 3501, 500)  # 2,000 changed: its statistics are half wrong
    assert _analyze_grown(postgres_url) == ["suppressions"]
    assert _analyzed(grown_db, "suppressions")[1] == 4000


def test_sqlite_has_no_statistics_to_renew(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cartback.db'}"
    store = SqlStore.connect(url)
    try:
        migrate.upgrade(store.engine)
        with store.transaction() as tx:
            assert tx.upkeep.analyze_grown() == []
    finally:
        store.close()


def test_the_worker_renews_statistics_on_postgresql_only(db_url: str, tmp_path: Path) -> None:
    runtime, _clock, _gateway = make_runtime(db_url, tmp_path)
    engine = connect(db_url)
    try:
        jobs = {job.name: job for job in runtime.worker.jobs}
        if runtime.store.kind != "postgresql":
            assert "statistics" not in jobs
            return
        assert jobs["statistics"].every == STATISTICS_EVERY
        _flushes_on_demand(engine)
        _add_suppressions(engine, 1, 600)
        before, _ = _analyzed(engine, "suppressions")
        assert jobs["statistics"].run() >= 1  # and any other table that grew
        assert _analyzed(engine, "suppressions") == (before + 1, 600)
    finally:
        engine.dispose()
        runtime.store.close()
