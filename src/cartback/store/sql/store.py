"""The SQL store: SQLite (embedded) and PostgreSQL (scale), on SQLAlchemy Core.

A write transaction takes SQLite's one write lock up front (BEGIN IMMEDIATE), so two writers
never deadlock on an upgrade from a read lock; PostgreSQL coordinates with row locks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from cartback.domain.records import Claim, NewDelivery, SendAttempt
from cartback.store import migrate
from cartback.store.base import StoreConflict
from cartback.store.changes import MessageChanges
from cartback.store.db import connect, read_only, write_transaction
from cartback.store.deliveries import record_in_a_transaction
from cartback.store.diagnostics import Diagnostics
from cartback.store.privacy import PrivacyRecords
from cartback.store.secrets import Secrets
from cartback.store.sent import Onward, record_sent_in_a_transaction
from cartback.store.sql.carts import SqlCarts
from cartback.store.sql.codes import SqlCodes
from cartback.store.sql.consent import SqlConsent
from cartback.store.sql.cursors import SqlCursors
from cartback.store.sql.decisions import SqlDecisions
from cartback.store.sql.deliveries import SqlDeliveries
from cartback.store.sql.delivery_batches import LoopDeliveries
from cartback.store.sql.diagnostics import SqlDiagnostics
from cartback.store.sql.lanes import Lanes
from cartback.store.sql.lookback import SqlLookback
from cartback.store.sql.measure import SqlMeasurements
from cartback.store.sql.messages import SqlMessages, add_sent
from cartback.store.sql.orders import SqlOrders
from cartback.store.sql.privacy import SqlPrivacy
from cartback.store.sql.reports import SqlReports
from cartback.store.sql.runs import SqlRuns, claim_due
from cartback.store.sql.secrets import SqlSecrets
from cartback.store.sql.touches import SqlTouches
from cartback.store.sql.upkeep import SqlUpkeep
from cartback.store.upkeep import Upkeep


class SqlTx:
    """One unit of work on one connection; every repository shares the transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.carts = SqlCarts(conn)
        self.orders = SqlOrders(conn)
        self.runs = SqlRuns(conn)
        self.decisions = SqlDecisions(conn)
        self.messages = SqlMessages(conn, self.decisions)
        self.consent = SqlConsent(conn)
        self.deliveries = SqlDeliveries(conn)
        self.touches = SqlTouches(conn)
        self.lookback = SqlLookback(conn)
        self.codes = SqlCodes(conn)
        self.cursors = SqlCursors(conn)
        self.reports = SqlReports(conn)
        self.upkeep: Upkeep = SqlUpkeep(conn)
        self.privacy: PrivacyRecords = SqlPrivacy(conn)
        self.measure = SqlMeasurements(conn)
        self.diagnostics: Diagnostics = SqlDiagnostics(conn)
        self.secrets: Secrets = SqlSecrets(conn)


class SqlStore:
    def __init__(self, engine: Engine, *, lanes: int | None = None) -> None:
        """`lanes`: how many of this process's threads work on the database at once
        (`database_lanes`; store/sql/lanes.py); None: as many as ask."""
        self.engine = engine
        self.lanes = Lanes(lanes) if lanes else None

    @classmethod
    def connect(cls, url: str, *, threads: int = 0, lanes: int | None = None) -> SqlStore:
        """`threads`: the worker's senders, each holding a connection while it works."""
        return cls(connect(url, threads=threads), lanes=lanes)

    def _lane(self) -> AbstractContextManager[None]:
        return self.lanes.held() if self.lanes is not None else nullcontext()

    @property
    def kind(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        with self._lane(), _conflicts(), write_transaction(self.engine) as conn:
            yield SqlTx(conn)

    def record_deliveries(
        self, batch: Sequence[NewDelivery], inserted: Callable[[], None] | None = None
    ) -> list[tuple[int, bool]]:
        """On PostgreSQL the batch's insert is its own transaction (autocommit): one round
        trip where BEGIN, the insert and COMMIT took three, at every webhook's batch. Its
        other statement, the look-up of keys stored before, only reads."""
        if self.kind != "postgresql":
            return record_in_a_transaction(self, batch, inserted)
        with self._lane(), _conflicts(), self._at_once() as conn:
            kept = SqlDeliveries(conn).record_many(batch)
        if inserted is not None:
            inserted()
        return kept

    @contextmanager
    def reading(self) -> Iterator[SqlTx]:
        with self._lane(), read_only(self.engine) as conn:
            yield SqlTx(conn)

    def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[Claim]:
        """On PostgreSQL the claim is one statement that commits itself: one round trip where
        BEGIN, the claim and COMMIT took three."""
        with self._lane():
            if self.kind != "postgresql":
                with write_transaction(self.engine) as conn:
                    return claim_due(conn, now, limit, lease)
            with self._at_once() as conn:
                return claim_due(conn, now, limit, lease)

    def loop_writer(self) -> LoopDeliveries | None:
        """PostgreSQL (psycopg): a connection of the loop's own (`LoopDeliveries`). It takes no
        lane: the loop writes one batch at a time."""
        if self.kind != "postgresql" or self.engine.dialect.driver != "psycopg":
            return None
        return LoopDeliveries(self.engine)

    def record_sent(
        self,
        attempt: SendAttempt,
        changes: MessageChanges,
        onward: Onward | None,
        now: datetime,
    ) -> None:
        """On PostgreSQL one statement that commits itself (store/sent.py)."""
        if self.kind != "postgresql":
            record_sent_in_a_transaction(self, attempt, changes, onward, now)
            return
        with self._lane(), _conflicts(), self._at_once() as conn:
            add_sent(conn, attempt, changes, onward, now)

    def _at_once(self) -> Connection:
        """A PostgreSQL connection whose every statement is its own transaction (autocommit),
        for a unit of work of one statement."""
        return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def ping(self) -> None:
        with self._lane(), read_only(self.engine) as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()

    # the schema ------------------------------------------------------------------------------

    def upgrade(self) -> None:
        migrate.upgrade(self.engine)

    def revision(self) -> str | None:
        return migrate.current_revision(self.engine)

    def schema_current(self) -> bool:
        return migrate.is_current(self.engine)


@contextmanager
def _conflicts() -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        # The driver's first line names the rule; the values it quotes stay out.
        rule = str(exc.orig).splitlines()[0] if exc.orig is not None else "integrity"
        raise StoreConflict(rule) from exc
