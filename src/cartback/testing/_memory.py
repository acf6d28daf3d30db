"""`InMemoryStore`: the store contract kept in dictionaries, for unit tests, backtests and
simulations. It honours the same rules as the SQL store (the contract suite in
tests/contract runs against both):

- a unit of work is all or nothing: an exception in the block undoes every write in it;
- units of work are serialised by one lock, so several worker threads may share the store;
- ids are handed out like a database's, uniqueness rules are those of the tables;
- records are frozen: what comes back cannot change under the caller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING

from cartback.domain.records import Claim, NewDelivery, SendAttempt
from cartback.store.changes import MessageChanges
from cartback.store.deliveries import record_in_a_transaction
from cartback.store.lookback import Lookbacks, OneByOne
from cartback.store.privacy import PrivacyRecords
from cartback.store.secrets import Secrets
from cartback.store.sent import Onward, record_sent_in_a_transaction
from cartback.store.upkeep import Upkeep
from cartback.testing._books import (
    MemoryCodes,
    MemoryCursors,
    MemoryDeliveries,
    MemorySecrets,
    MemoryTouches,
)
from cartback.testing._carts import MemoryCarts, MemoryOrders
from cartback.testing._consent import MemoryConsent
from cartback.testing._data import Data
from cartback.testing._diagnostics import MemoryDiagnostics
from cartback.testing._measure import MemoryMeasurements
from cartback.testing._messages import MemoryMessages
from cartback.testing._privacy import MemoryPrivacy
from cartback.testing._reports import MemoryReports
from cartback.testing._runs import MemoryDecisions, MemoryRuns, claim_due
from cartback.testing._upkeep import MemoryUpkeep

if TYPE_CHECKING:
    from cartback.store.base import Store
    from cartback.store.diagnostics import Diagnostics


class MemoryTx:
    """One unit of work's view of the store: its repositories."""

    def __init__(self, data: Data) -> None:
        self.carts = MemoryCarts(data)
        self.orders = MemoryOrders(data)
        self.runs = MemoryRuns(data)
        self.decisions = MemoryDecisions(data)
        self.messages = MemoryMessages(data)
        self.consent = MemoryConsent(data)
        self.deliveries = MemoryDeliveries(data)
        self.touches = MemoryTouches(data)
        self.codes = MemoryCodes(data)
        self.cursors = MemoryCursors(data)
        self.reports = MemoryReports(data)
        self.upkeep: Upkeep = MemoryUpkeep(data)
        self.privacy: PrivacyRecords = MemoryPrivacy(data)
        self.measure = MemoryMeasurements(data)
        self.diagnostics: Diagnostics = MemoryDiagnostics(data)
        self.secrets: Secrets = MemorySecrets(data)
        self.lookback: Lookbacks = OneByOne(self)


class InMemoryStore:
    def __init__(self) -> None:
        self._data = Data()
        self._tx = MemoryTx(self._data)
        self._lock = threading.RLock()
        self._reads: list[list[Callable[[], None]] | None] = []  # open reading() blocks

    @property
    def kind(self) -> str:
        return "memory"

    def transaction(self) -> AbstractContextManager[MemoryTx]:
        return _UnitOfWork(self, writes=True)

    def reading(self) -> AbstractContextManager[MemoryTx]:
        """Read-only: a write in it raises. Inside a transaction of the same thread, it sees
        that transaction's writes."""
        return _UnitOfWork(self, writes=False)

    def record_deliveries(
        self, batch: Sequence[NewDelivery], inserted: Callable[[], None] | None = None
    ) -> list[tuple[int, bool]]:
        return record_in_a_transaction(self, batch, inserted)

    def loop_writer(self) -> None:
        return None  # deliveries are written by the recorder's thread

    def record_sent(
        self,
        attempt: SendAttempt,
        changes: MessageChanges,
        onward: Onward | None,
        now: datetime,
    ) -> None:
        record_sent_in_a_transaction(self, attempt, changes, onward, now)

    def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[Claim]:
        with self.transaction():
            return claim_due(self._data, now, limit, lease)

    def next_due(self) -> datetime | None:
        """When the next pending run falls due (None: none is pending). A backtest's simulated
        clock jumps from one such instant to the next instead of ticking through idle time."""
        with self.reading():
            due = self._data.due.next_due(self._data.runs)
        return None if due is None else datetime.fromtimestamp(due, UTC)

    def ping(self) -> None:
        """Memory always answers."""

    def close(self) -> None:
        """Nothing to release."""

    def _begin(self, writes: bool) -> None:
        journal = self._data.journal
        if not writes:
            self._reads.append(journal.undo)
            journal.undo = None  # writes raise
        elif journal.undo is not None or self._reads:
            raise RuntimeError("a unit of work is already open on this thread")
        else:
            journal.undo = []

    def _end(self, writes: bool, failed: bool) -> None:
        journal = self._data.journal
        if not writes:
            journal.undo = self._reads.pop()
            return
        undo, journal.undo = journal.undo or [], None
        if failed:
            for step in reversed(undo):
                step()


class _UnitOfWork:
    """Holds the store's lock from enter to exit; a write unit undoes itself when it fails.
    (A class rather than @contextmanager: the engine opens several per cart.)"""

    __slots__ = ("store", "writes")

    def __init__(self, store: InMemoryStore, *, writes: bool) -> None:
        self.store = store
        self.writes = writes

    def __enter__(self) -> MemoryTx:
        self.store._lock.acquire()
        try:
            self.store._begin(self.writes)
        except BaseException:
            self.store._lock.release()
            raise
        return self.store._tx

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self.store._end(self.writes, failed=kind is not None)
        finally:
            self.store._lock.release()


if TYPE_CHECKING:

    def _honours_the_contract(store: InMemoryStore) -> Store:
        return store
