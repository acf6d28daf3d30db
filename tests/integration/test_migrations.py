"""The migrations create exactly the schema the code declares, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from cartback.store import migrate
from cartback.store.tables import metadata


def test_migrated_schema_matches_the_tables(db: Engine) -> None:
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrating_twice_is_harmless_and_current(db: Engine) -> None:
    migrate.upgrade(db)
    assert migrate.is_current(db)


def test_webhook_bodies_are_compressed_with_lz4_on_postgresql(db: Engine) -> None:
    """The cheaper method for the database's CPU, where the server has it (this one does)."""
    if db.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's column compression")
    query = (
        "SELECT attcompression FROM pg_attribute"
        " WHERE attrelid = 'deliveries'::regclass AND attname = 'body'"
    )
    with db.connect() as conn:
        assert conn.execute(text(query)).scalar() == "l"
