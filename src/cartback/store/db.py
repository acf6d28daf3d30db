"""Connecting to the database: SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

IMMEDIATE = "cartback_immediate"
CONNECT_TIMEOUT = 10  # seconds, PostgreSQL
POOL_SIZE, POOL_OVERFLOW = 10, 20  # PostgreSQL connections kept, and opened beyond them
SQLITE_POOL_SIZE = 5  # SQLAlchemy's own for a file
# A PostgreSQL connection that lay unused in the pool this long is checked before it is lent.
IDLE_CHECK = 5.0  # seconds
_RETURNED = "cartback_returned"  # when a connection came back to the pool (time.monotonic)
# SQLite has one writer at a time. The threads of one process queue for it on a lock, in turn;
# without it they would poll the file lock, and SQLite's busy handler sleeps between polls (up to
# 100 ms each) while the lock is free. Other processes still wait through the busy timeout.
_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` as the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def connect(
    url: str,
    *,
    echo: bool = False,
    threads: int = 0,
    idle_clock: Callable[[], float] = time.monotonic,
) -> Engine:
    """The engine of `url`; `threads`: how many threads of the caller (a worker's senders) may
    want a connection at once. The pool keeps more connections for them (up to twice its own),
    so that they are not opened and closed per transaction; a thread holds one only while it
    reads or writes, never during a gateway call, so a few serve many threads. `idle_clock`
    times how long a PostgreSQL connection lay unused (`_check_when_idle`)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, echo, threads)
    # A server that drops packets must not hang a start for minutes.
    connect_args = {} if "connect_timeout" in url else {"connect_timeout": CONNECT_TIMEOUT}
    # A worker sends from several threads and an API answers many webhooks at once: connections
    # are kept for them rather than opened and closed per transaction.
    engine = create_engine(
        url,
        echo=echo,
        pool_size=POOL_SIZE + min(threads, POOL_SIZE),
        max_overflow=POOL_OVERFLOW,
        future=True,
        connect_args=connect_args,
        hide_parameters=True,  # an error's `[parameters: …]` would quote people's data
    )
    _check_when_idle(engine, idle_clock)
    return engine


def _check_when_idle(engine: Engine, clock: Callable[[], float]) -> None:
    """Check a pooled PostgreSQL connection before lending it, when it lay unused for
    `IDLE_CHECK` seconds: a server restarted (or a connection dropped by a firewall) meanwhile
    costs a new connection, not a failed transaction. A connection in steady use is lent as
    it is: a check is a round trip to the server, and under load that was one more per
    transaction (a webhook's, each of a message's two) for nothing. A connection that breaks
    while in use fails its transaction; SQLAlchemy then replaces every connection that was
    open before, and the transaction is tried again (the recorder writes a failed batch again,
    a failed run is claimed again after its lease)."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info[_RETURNED] = clock()

    @event.listens_for(engine, "checkout")
    def _lent(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is None or clock() - returned < IDLE_CHECK:
            return  # just opened, or in use moments ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool closes this one and lends another (SQLAlchemy's documented way).
            raise DisconnectionError("a pooled connection no longer answers") from exc


def _sqlite_engine(url: str, database: str | None, echo: bool, threads: int) -> Engine:
    file = bool(database and database != ":memory:")
    if database and file:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    kept = SQLITE_POOL_SIZE + min(threads, POOL_SIZE)
    pool = {"pool_size": kept, "max_overflow": POOL_OVERFLOW} if file else {}
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"timeout": 30, "check_same_thread": False},
        hide_parameters=True,
        **pool,
    )
    _WRITERS[engine] = threading.RLock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A connection for reads whose transaction ends with COMMIT, not with the ROLLBACK of a
    connection closed inside it. At a rollback psycopg forgets, and deallocates, every
    statement it prepared on the connection, and the pool keeps connections: the connection's
    next statements were parsed and planned anew (a run's later steps, metrics scrapes and
    /readyz read this way). An error still rolls back."""
    with engine.connect() as conn:
        yield conn
        conn.commit()


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that takes the write lock up front on SQLite (BEGIN IMMEDIATE).

    On PostgreSQL it is an ordinary transaction; row locks do the coordinating there. On SQLite
    the writers of one process (webhooks' batches, deliveries being applied, the worker's
    sends) first take turns on the engine's own lock (`writers`).
    """
    writer = _WRITERS.get(engine)
    if writer is None:
        with engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
            yield conn
        return
    with writer, engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
        yield conn


def writers(engine: Engine) -> threading.RLock | None:
    """The lock the writers of one SQLite engine take turns on (None: another database)."""
    return _WRITERS.get(engine)
