"""A small cache of Shopify profiles with a time to live, behind an interface a database-backed
cache can implement later. A record Shopify does not have is remembered too (`value` None), so
that a deleted product is not looked up again on every cart."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Cached(Generic[V]):
    value: V | None  # None: the shop has no such record
    expires_at: datetime


class ProfileCache(Protocol[V]):
    def get(self, store_id: str, key: str, now: datetime) -> Cached[V] | None:
        """The entry for this store and id unless it has expired."""
        ...

    def put(self, store_id: str, key: str, entry: Cached[V]) -> None: ...


class MemoryCache(Generic[V]):
    """In this process only; thread-safe (the API and the worker may share it)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Cached[V]] = {}
        self._lock = threading.Lock()

    def get(self, store_id: str, key: str, now: datetime) -> Cached[V] | None:
        with self._lock:
            entry = self._entries.get((store_id, key))
            if entry is not None and entry.expires_at <= now:
                del self._entries[(store_id, key)]
                return None
            return entry

    def put(self, store_id: str, key: str, entry: Cached[V]) -> None:
        with self._lock:
            self._entries[(store_id, key)] = entry
