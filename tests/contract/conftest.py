"""The store contract: every test here runs on the in-memory store, SQLite and PostgreSQL.

The same test passing on all three is what makes `InMemoryStore` an honest stand-in for the
database in the engine's unit tests, the backtest and the simulation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cartback.store import migrate
from cartback.store.base import Store
from cartback.store.db import connect
from cartback.store.tables import metadata
from cartback.testing import InMemoryStore


def _sql_store(url: str) -> Store:
    from cartback.store.sql import SqlStore

    return SqlStore.connect(url)


def _emptied(url: str) -> str:
    engine = connect(url)
    names = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield InMemoryStore()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cartback.db'}"
        engine = connect(url)
        migrate.upgrade(engine)
        engine.dispose()
    else:
        url = _emptied(request.getfixturevalue("postgres_url"))
    sql = _sql_store(url)
    yield sql
    sql.close()
