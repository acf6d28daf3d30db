"""Tables in memory: rows by primary key, indexes kept in step, and an undo log for rollback.

Every write goes through a `Table`, which records how to undo it in the open transaction's
journal; a rollback plays the journal backwards. Rows are frozen dataclasses, so what a
repository returns is already a snapshot nobody can change behind the store's back.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


class StoreConflict(Exception):
    """A write that breaks a uniqueness rule or points at a row that does not exist."""


class ReadOnly(RuntimeError):
    """A write in `reading()`, or outside any unit of work."""


class Journal:
    """The undo log of the open unit of work (None: none is open, or it only reads)."""

    def __init__(self) -> None:
        self.undo: list[Callable[[], None]] | None = None

    def record(self, undo: Callable[[], None]) -> None:
        if self.undo is None:
            raise ReadOnly("a write outside store.transaction(): reading() is read-only")
        self.undo.append(undo)

    def check_writable(self) -> None:
        if self.undo is None:
            raise ReadOnly("a write outside store.transaction(): reading() is read-only")


class Index(Generic[K, R]):
    """Primary keys of rows by a derived key; rows whose key is None are not indexed (NULL).

    A bucket is the bare primary key while it holds one row (most do: one cart per token, one
    run per cart...), and a dict used as an ordered set beyond that: at 100,000 carts a dict per
    key is most of the store's memory and of the garbage collector's work."""

    def __init__(self, key: Callable[[R], Hashable | None]) -> None:
        self.key = key
        self.buckets: dict[Hashable, Any] = {}

    def add(self, pk: K, row: R) -> None:
        value = self.key(row)
        if value is None:
            return
        bucket = self.buckets.get(value)
        if bucket is None:
            self.buckets[value] = pk
        elif type(bucket) is dict:
            bucket[pk] = None
        elif bucket != pk:
            self.buckets[value] = {bucket: None, pk: None}

    def remove(self, pk: K, row: R) -> None:
        value = self.key(row)
        bucket = self.buckets.get(value) if value is not None else None
        if bucket is None:
            return
        if type(bucket) is not dict:
            if bucket == pk:
                del self.buckets[value]
            return
        bucket.pop(pk, None)
        if len(bucket) == 1:
            self.buckets[value] = next(iter(bucket))

    def get(self, value: Hashable) -> Iterable[K]:
        """The rows' keys in the order they were indexed."""
        bucket = self.buckets.get(value)
        if bucket is None:
            return ()
        if type(bucket) is dict:
            return bucket.keys()
        return (bucket,)


class Unique(Generic[K, R]):
    """A uniqueness rule: at most one row per key; rows whose key is None are exempt (NULL)."""

    def __init__(self, name: str, key: Callable[[R], Hashable | None]) -> None:
        self.name = name
        self.key = key
        self.owner: dict[Hashable, K] = {}

    def check(self, pk: K, row: R) -> None:
        value = self.key(row)
        if value is not None and self.owner.get(value, pk) != pk:
            raise StoreConflict(f"{self.name}: {value!r} is taken")

    def add(self, pk: K, row: R) -> None:
        value = self.key(row)
        if value is not None:
            self.owner[value] = pk

    def remove(self, pk: K, row: R) -> None:
        value = self.key(row)
        if value is not None and self.owner.get(value) == pk:
            del self.owner[value]

    def get(self, value: Hashable) -> K | None:
        return self.owner.get(value)


class Table(Generic[K, R]):
    def __init__(
        self,
        journal: Journal,
        name: str,
        *,
        indexes: tuple[Index[K, R], ...] = (),
        uniques: tuple[Unique[K, R], ...] = (),
        on_put: Callable[[K, R], None] | None = None,
    ) -> None:
        self.journal = journal
        self.name = name
        self.rows: dict[K, R] = {}
        self.indexes = indexes
        self.uniques = uniques
        self.on_put = on_put  # told of every row written, by a write or by an undo
        self.rules: tuple[Index[K, R] | Unique[K, R], ...] = (*indexes, *uniques)

    def get(self, pk: K) -> R | None:
        return self.rows.get(pk)

    def __contains__(self, pk: object) -> bool:
        return pk in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def values(self) -> Iterator[R]:
        return iter(self.rows.values())

    def insert(self, pk: K, row: R) -> R:
        self.journal.check_writable()
        if pk in self.rows:
            raise StoreConflict(f"{self.name}: {pk!r} exists")
        for unique in self.uniques:
            unique.check(pk, row)
        self._put(pk, row)
        self.journal.record(lambda: self._drop(pk, row))
        return row

    def replace(self, pk: K, row: R) -> R:
        self.journal.check_writable()
        old = self.rows[pk]
        for unique in self.uniques:
            unique.check(pk, row)
        self._swap(pk, old, row)
        self.journal.record(lambda: self._swap(pk, row, old))
        return row

    def delete(self, pk: K) -> None:
        self.journal.check_writable()
        old = self.rows[pk]
        self._drop(pk, old)
        self.journal.record(lambda: self._put(pk, old))

    def _swap(self, pk: K, current: R, new: R) -> None:
        """Replace a row, touching only the index entries whose key changed."""
        self.rows[pk] = new
        for rule in self.rules:
            if rule.key(current) != rule.key(new):
                rule.remove(pk, current)
                rule.add(pk, new)
        if self.on_put is not None:
            self.on_put(pk, new)

    def _put(self, pk: K, row: R) -> None:
        self.rows[pk] = row
        for index in self.indexes:
            index.add(pk, row)
        for unique in self.uniques:
            unique.add(pk, row)
        if self.on_put is not None:
            self.on_put(pk, row)

    def _drop(self, pk: K, row: R) -> None:
        del self.rows[pk]
        for index in self.indexes:
            index.remove(pk, row)
        for unique in self.uniques:
            unique.remove(pk, row)


class Ids:
    """Ids handed out like a database sequence: increasing, never reused (not even after a
    rollback, as on PostgreSQL)."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


def updated(row: R, **changes: Any) -> R:
    """`dataclasses.replace` for the frozen records, without re-running `__init__`: the store
    changes rows on every step of every cart, and this is several times as fast."""
    kind = type(row)
    copier = _COPIERS.get(kind) or _copier(kind)
    return copier(row, changes)  # type: ignore[no-any-return]


_COPIERS: dict[type, Callable[[Any, dict[str, Any]], Any]] = {}


def _copier(kind: type) -> Callable[[Any, dict[str, Any]], Any]:
    """A function copying one record type field by field, taking changed fields from a dict:
    written out per type, the way dataclasses writes `__init__`."""
    names = [f.name for f in fields(kind)]
    lines = [
        "def copy(row, changes):",
        "    if not changes.keys() <= NAMES:",
        "        raise TypeError(f'{KIND.__name__} has no field {sorted(changes.keys() - NAMES)}')",
        "    new = NEW(KIND)",
        *(f"    SET(new, {n!r}, changes[{n!r}] if {n!r} in changes else row.{n})" for n in names),
        "    return new",
    ]
    scope: dict[str, Any] = {
        "NAMES": frozenset(names),
        "KIND": kind,
        "NEW": object.__new__,
        "SET": object.__setattr__,
    }
    exec("\n".join(lines), scope)  # noqa: S102 (our own field names, nothing from outside)
    copier: Callable[[Any, dict[str, Any]], Any] = scope["copy"]
    _COPIERS[kind] = copier
    return copier


def utc(moment: datetime) -> datetime:
    """Aware UTC, as the database gives times back; a naive time is refused like the SQL store."""
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store; use aware UTC")
    return moment.astimezone(UTC)


def all_utc(*moments: datetime | None) -> bool:
    """Whether every time given is already aware UTC (or None): nothing to convert."""
    return all(moment is None or moment.tzinfo is UTC for moment in moments)


def utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else utc(moment)


def require(table: Table[K, R], pk: K | None, what: str) -> None:
    """A foreign key: the row must exist (None is allowed, as a NULL column)."""
    if pk is not None and pk not in table:
        raise StoreConflict(f"{what} {pk!r} does not exist")


def past(
    rows: list[R], key: Callable[[R], Any], after: K | None, get: Callable[[K], R | None]
) -> list[R]:
    """The rows newest first by `key`, those past the row with id `after` only (the SQL store's
    keyset paging: none when that row is gone)."""
    rows = sorted(rows, key=key, reverse=True)
    if after is None:
        return rows
    last = get(after)
    if last is None:
        return []
    edge = key(last)
    return [row for row in rows if key(row) < edge]
