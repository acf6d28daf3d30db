"""The store on SQLite and PostgreSQL: every SQL statement of cartback lives in this package."""

from __future__ import annotations

from cartback.store.sql.store import SqlStore, SqlTx

__all__ = ["SqlStore", "SqlTx"]
