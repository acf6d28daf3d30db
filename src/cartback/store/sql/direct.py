"""The hot statements on the driver's cursor (PostgreSQL), compiled once.

Each statement SQLAlchemy executes costs the worker more CPU than the driver and the server
together ask of it: a cache key made from the statement's tree, a cache look-up, an execution
context, parameters and result rows processed through several layers. A send asks about ten
statements, and applying a delivery about seven; in one process, one thread, this path took a
send from 3.37 to 2.38-2.49 ms of client CPU, and a delivery's application from 1.22-1.27 to
0.93-0.96 ms (README, Performance).

`execute(conn, statement, values)` does what `conn.execute(statement, values)` does for the
statements given to it, in the connection's own transaction: the statement is compiled once per
dialect and set of keys given (as SQLAlchemy would compile it), its values go through the
columns' own bind processors, and the driver's cursor runs it, prepared by psycopg as before.
Rows come back with the columns' result processors applied, by name and position as SQLAlchemy's
rows. Errors are SQLAlchemy's (`IntegrityError`, …), a lost connection is invalidated, and the
`before_cursor_execute` / `after_cursor_execute` events fire as they do for any statement. On a
connection in autocommit (`SqlStore._at_once`: a message's answer) the statement commits itself.

`execute_sql(conn, sql, values)` does the same for a statement written in the driver's own
placeholders (the webhooks' batch insert, whose arrays go in psycopg's binary format): what
`conn.exec_driver_sql` does, without SQLAlchemy's execution context around the cursor.

Only statements that need nothing more take this path: no Python-side column defaults, no
expanding parameters, no rows asked back from a list of values. Others, and every dialect but
psycopg's, go through `conn.execute`. Give it statements built once (module constants, or made
once per shape by an `@cache` function): they are cached by object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, CursorResult, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Processor = Callable[[Any], Any]


class Row(tuple[Any, ...]):
    """A result row: by position, and by column name as an attribute (as SQLAlchemy's). Each
    statement's rows are of a class of their own, made by `_row_class`."""

    __slots__ = ()
    _names: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:  # a name no attribute of the class took
        try:
            return self[type(self)._names[name]]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> dict[str, Any]:
        return {name: self[at] for name, at in type(self)._names.items()}


def _row_class(names: dict[str, int]) -> type[Row]:
    """Rows with these columns: each name an attribute read in C (`itemgetter`). A column named
    as a tuple's own method (`count`, `index`) is read by position or `_mapping`, as with
    SQLAlchemy's rows."""
    readers = {
        name: property(itemgetter(at))
        for name, at in names.items()
        if name.isidentifier() and not name.startswith("_") and not hasattr(tuple, name)
    }
    return type("Row", (Row,), {"__slots__": (), "_names": names, **readers})


class Rows:
    """What the statement gave back: its rows (all fetched) and the rows it changed."""

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)

    def all(self) -> list[Any]:  # Rows (typed as SQLAlchemy's rows are used)
        return list(self._rows)

    def first(self) -> Any:  # a Row, or None (typed as SQLAlchemy's rows are used)
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise exc.NoResultFound("no row") if not self._rows else exc.MultipleResultsFound()
        return self._rows[0]

    def scalar_one(self) -> Any:
        return self.one()[0]


class _Compiled:
    """A statement compiled for one dialect and set of keys, with its values' processors; the
    result processors are found at its first rows (some depend on the type the server sent)."""

    __slots__ = ("binds", "columns", "compiled", "dialect", "results", "row", "sql")

    def __init__(self, compiled: SQLCompiler, dialect: Dialect) -> None:
        self.compiled = compiled
        self.dialect = dialect  # the one it was compiled for (cached per dialect)
        self.sql = compiled.string
        escaped: Mapping[str, str] = compiled.escaped_bind_names or {}
        binds = []
        for bind, name in compiled.bind_names.items():  # each parameter as rendered
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                binds.append((escaped.get(name, name), process))
        self.binds: tuple[tuple[str, Processor], ...] = tuple(binds)
        # What SQLAlchemy's own rows are made from: each column's key and type.
        self.columns = compiled._result_columns
        self.results: tuple[Processor | None, ...] | None = None
        self.row: type[Row] | None = None
        if self.columns:
            names = {column[0]: at for at, column in enumerate(self.columns)}
            self.row = _row_class(names)

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        driver = dict(self.compiled.construct_params(dict(values), escape_names=True))
        for name, process in self.binds:
            driver[name] = process(driver[name])
        return driver

    def rows(self, cursor: Any) -> list[Row]:
        row, results, dialect = self.row, self.results, self.dialect
        if row is None:
            return []
        fetched = cursor.fetchall()
        if results is None:
            types = [column.type_code for column in cursor.description]
            self.results = results = tuple(
                column[3].dialect_impl(dialect).result_processor(dialect, code)
                for column, code in zip(self.columns, types, strict=True)
            )
        if not any(results):
            return [row(values) for values in fetched]
        return [
            row(
                value if process is None else process(value)
                for value, process in zip(values, results, strict=True)
            )
            for values in fetched
        ]


# Compiled per statement object: for the statements built once (module constants, or made once
# per shape by an `@cache` function). A statement built per call would never be found again; past
# this many entries nothing more is cached and such a statement goes through SQLAlchemy.
_LIMIT = 512
_CACHE: dict[tuple[int, str, frozenset[str], bool], _Compiled | None] = {}
_KEEP: dict[int, Executable] = {}  # the statements cached by id, kept alive
_LOCK = threading.Lock()


def execute(
    conn: Connection,
    statement: Executable,
    values: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> Rows | CursorResult[Any]:
    """`conn.execute(statement, values)`, on the driver's cursor where it can be (see above).
    A list of values runs it once for each (no rows come back then)."""
    dialect = conn.dialect
    if dialect.driver != "psycopg":
        return conn.execute(statement, values)
    given: list[Mapping[str, Any]]
    if values is None or isinstance(values, Mapping):
        many, given = False, [values or {}]
    else:
        many, given = True, list(values)
    if not given:
        return conn.execute(statement, [])
    compiled = _compiled(statement, dialect, frozenset(given[0]), many)
    if compiled is None or (many and compiled.row is not None):
        return conn.execute(statement, values)
    if not conn.in_transaction():
        conn.begin()  # as SQLAlchemy's own autobegin: the statement is in the transaction
    parameters = [compiled.parameters(one) for one in given]
    return _run(conn, compiled.sql, parameters, many, compiled.rows)


def execute_sql(conn: Connection, sql: str, values: Mapping[str, Any]) -> Rows | CursorResult[Any]:
    """`conn.exec_driver_sql(sql, values)`, on the driver's cursor (psycopg): for a statement
    written in the driver's own placeholders (`%(name)s`, `%(name)b` for binary), its values as
    the driver takes them. Rows by column name and position, as the server named the columns."""
    if conn.dialect.driver != "psycopg":
        return conn.exec_driver_sql(sql, values)
    if not conn.in_transaction():
        conn.begin()
    return _run(conn, sql, [dict(values)], False, _plain_rows)


def _plain_rows(cursor: Any) -> list[Row]:
    if cursor.description is None:
        return []
    names = tuple(column.name for column in cursor.description)
    row = _PLAIN_ROWS.get(names)
    if row is None:
        row = _PLAIN_ROWS[names] = _row_class({name: at for at, name in enumerate(names)})
    return [row(values) for values in cursor.fetchall()]


_PLAIN_ROWS: dict[tuple[str, ...], type[Row]] = {}  # by the columns' names


def _run(
    conn: Connection,
    sql: str,
    parameters: list[dict[str, Any]],
    many: bool,
    rows_of: Callable[[Any], list[Row]],
) -> Rows:
    dialect = conn.dialect
    dbapi = conn.connection.dbapi_connection
    cursor = dbapi.cursor()  # type: ignore[union-attr]
    shown: Any = parameters if many else parameters[0]
    try:
        conn.dispatch.before_cursor_execute(conn, cursor, sql, shown, None, many)
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters[0])
        rows = rows_of(cursor)
        rowcount = cursor.rowcount
        conn.dispatch.after_cursor_execute(conn, cursor, sql, shown, None, many)
    except dialect.loaded_dbapi.Error as error:
        invalid = dialect.is_disconnect(error, dbapi, cursor)
        if invalid:
            conn.invalidate(error)
        raise exc.DBAPIError.instance(
            sql,
            shown,
            error,
            dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=invalid,
            dialect=dialect,
        ) from error
    finally:
        cursor.close()
    return Rows(rows, rowcount)


def _compiled(
    statement: Executable, dialect: Dialect, keys: frozenset[str], many: bool
) -> _Compiled | None:
    key = (id(statement), dialect.name, keys, many)
    try:
        return _CACHE[key]
    except KeyError:
        pass
    if len(_CACHE) >= _LIMIT:
        return None
    made = _compile(statement, dialect, keys, many)
    with _LOCK:
        _KEEP[id(statement)] = statement  # its id stays its own while it is cached
        _CACHE[key] = made
    return made


def _compile(
    statement: Executable, dialect: Dialect, keys: frozenset[str], many: bool
) -> _Compiled | None:
    """The statement as SQLAlchemy compiles it for these keys; None where this path would not
    do what SQLAlchemy does (Python-side defaults to compute, parameters expanded at run)."""
    if not isinstance(statement, ClauseElement):
        return None
    # `for_executemany`: as SQLAlchemy compiles it for a list of values (an INSERT then asks
    # for no primary key back).
    compiled = statement.compile(dialect=dialect, column_keys=sorted(keys), for_executemany=many)
    if not isinstance(compiled, SQLCompiler):
        return None
    if compiled.insert_prefetch or compiled.update_prefetch:
        return None
    if compiled.post_compile_params or compiled.literal_execute_params:
        return None
    return _Compiled(compiled, dialect)
