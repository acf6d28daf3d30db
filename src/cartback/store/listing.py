"""One way to page through a table for the API: filter by store and status, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table, select

from cartback.store.types import AnyRow


def page(
    conn: Connection,
    table: Table,
    newest: Column[Any],
    *,
    store_id: str | None,
    status: str | None,
    limit: int,
    offset: int = 0,
) -> Sequence[AnyRow]:
    query = select(table)
    if store_id:
        query = query.where(table.c.store_id == store_id)
    if status:
        query = query.where(table.c.status == status)
    query = query.order_by(newest.desc(), table.c.id.desc())
    return conn.execute(query.limit(limit).offset(offset)).all()
