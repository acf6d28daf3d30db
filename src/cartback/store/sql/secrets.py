"""Secrets kept in the database (see store/secrets.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from cartback.store.sql.common import insert_ignoring_duplicates
from cartback.store.tables import secrets


class SqlSecrets:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def keep(self, name: str, value: str, now: datetime) -> str:
        statement = insert_ignoring_duplicates(self.conn, secrets)
        self.conn.execute(statement.values(name=name, value=value, created_at=now))
        query = select(secrets.c.value).where(secrets.c.name == name)
        kept: str = self.conn.execute(query).one()[0]
        return kept
