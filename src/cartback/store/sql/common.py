"""What every SQL repository shares: the dialect-aware insert, matching a person, paging."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Select,
    Table,
    bindparam,
    false,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

_WORD = re.compile(r"[a-z][a-z_]*")


def among(column: ColumnElement[Any], words: Iterable[str]) -> ColumnElement[bool]:
    """`column IN ('a', 'b')` for our own constant words (statuses, channels), written into
    the statement. A list given to `in_` is an expanding parameter, which SQLAlchemy renders
    into the statement again at every execution: for the statements asked before every send
    that cost a twentieth of a worker's CPU. Only lower-case words are taken."""
    listed: list[ColumnElement[Any]] = []
    for word in words:
        if not _WORD.fullmatch(word):
            raise ValueError(f"not a constant word to write into a statement: {word!r}")
        listed.append(literal_column(f"'{word}'"))
    return column.in_(listed)


def one_of_params(column: ColumnElement[Any], name: str, count: int) -> ColumnElement[bool]:
    """`column IN (:name_0, …)` for `count` values given as parameters `name_0`, `name_1`…
    (`params`): a statement built once per count, rendered once (see `among`)."""
    if count == 0:
        return false()
    return column.in_([bindparam(f"{name}_{n}") for n in range(count)])


def params(name: str, values: Iterable[object]) -> dict[str, object]:
    """The parameters `one_of_params(…, name, count)` takes."""
    return {f"{name}_{n}": value for n, value in enumerate(values)}


def insert_ignoring_duplicates(conn: Connection | str, table: Table) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING, on SQLite and PostgreSQL alike (for a connection, or
    a dialect's name)."""
    dialect = conn if isinstance(conn, str) else conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def same_person(table: Table, email: str | None, phone: str | None) -> ColumnElement[bool] | None:
    """Rows of the same person (same email or same phone); None when neither is known."""
    pairs = ((table.c.email, email), (table.c.phone, phone))
    same = [column == value for column, value in pairs if value]
    return or_(*same) if same else None


def same_person_by(table: Table, email: bool, phone: bool) -> ColumnElement[bool]:
    """`same_person` with the values as parameters (`:email`, `:phone`), for a statement built
    once per shape and reused: queries on every send skip building and keying it each time."""
    same = [table.c.email == bindparam("email")] if email else []
    same += [table.c.phone == bindparam("phone")] if phone else []
    return or_(*same)


def person(email: str | None, phone: str | None) -> dict[str, str]:
    """The parameters of `same_person_by` (only those known)."""
    return {key: value for key, value in (("email", email), ("phone", phone)) if value}


def paged(
    query: Select[Any],
    table: Table,
    newest: str,
    *,
    store_id: str | None,
    status: str | None,
    limit: int,
    offset: int,
    after: object = None,
) -> Select[Any]:
    """One way to page an API list: by store and status, newest first (ties: highest id);
    `after`: past the row with that id (keyset: a range of the index, however deep)."""
    if after is not None:
        key = select(table.c[newest]).where(table.c.id == after).scalar_subquery()
        # `<=` alone is the index's range; the rest breaks ties by id.
        query = query.where(table.c[newest] <= key, or_(table.c[newest] < key, table.c.id < after))
    if store_id:
        query = query.where(table.c.store_id == store_id)
    if status:
        query = query.where(table.c.status == status)
    return query.order_by(table.c[newest].desc(), table.c.id.desc()).limit(limit).offset(offset)
