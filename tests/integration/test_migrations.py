"""The migrations create exactly the schema the code declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from cartback.store import migrate
from cartback.store.tables import metadata


def test_migrated_schema_matches_the_tables(db: Engine) -> None:
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrating_twice_is_harmless_and_current(db: Engine) -> None:
    migrate.upgrade(db)
    assert migrate.is_current(db)
