"""How many of a process's threads work on the database at once.

A worker sends from many threads (`worker.concurrency`), and most of a send is the gateway's
answer, not the database: a thread needs the database for two short transactions per message.
When every thread may run its transactions whenever it likes, dozens of them are ready at once:
they take turns on the interpreter's lock at each statement's round trip, and PostgreSQL runs a
backend for each. Both cost CPU per message that grows with the threads (measured in
`bench/send_lag.py`, two workers of 64 threads at 500 due/s: with every thread on the database
the due steps waited about three times as long as with four at a time each, and each message
cost the workers and PostgreSQL a fifth more CPU). A thread waits here for a lane, works, and
gives it back; the gateway calls stay as concurrent as configured.

The lanes are re-entrant per thread: a thread that holds one and opens another unit of work
(a reading inside a transaction) does not wait for a second.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Lanes:
    """At most `count` threads inside `held()` at once; the rest wait for a lane to come back."""

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("lanes: at least one")
        # A lane is a token in a queue: taken and given back in C. A `Semaphore` does both in
        # Python, through a `Condition` (a lock made for each wait), and took a twentieth of a
        # sending worker's time under the interpreter's lock.
        self._free: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(count):
            self._free.put(None)
        self._depth = threading.local()

    @contextmanager
    def held(self) -> Iterator[None]:
        depth: int = getattr(self._depth, "value", 0)
        if depth == 0:
            self._free.get()
        self._depth.value = depth + 1
        try:
            yield
        finally:
            self._depth.value = depth
            if depth == 0:
                self._free.put(None)
