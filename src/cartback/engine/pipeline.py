"""Keeping a worker's send threads busy: claim more due runs while earlier ones are still sending.

A tick that claims a batch and waits for all of it leaves threads idle while the slowest sends of
the batch finish. The pipeline holds up to `window` claimed runs (being worked on, or waiting for
a thread) and claims again as soon as `chunk` places of the window are free, so a thread that
finishes finds its next run ready. Claims stay bounded: never more than `window` runs are held
(each one's lease runs meanwhile), and one `fill` claims at most `limit`.

The runs held are counted as they finish (a callback of each one's future), and the worker's
thread waiting for room is woken only once there is as much as it waits for: each finished run
costs a lock and a subtraction. (Waiting with `concurrent.futures.wait` on every run held, and
counting them again after each, cost the waiting thread about a quarter of a millisecond per
message with 128 runs held, under the interpreter's lock the send threads need.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


class Pipeline(Generic[T]):
    """Work items claimed in chunks and run on `threads` threads, at most `window` held."""

    def __init__(self, threads: int, *, window: int, chunk: int, name: str) -> None:
        self.window = max(window, threads)
        self.chunk = max(1, min(chunk, self.window))
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._changed = threading.Condition()
        self._held = 0  # submitted and not finished
        self._wanted = 0  # the room a waiting `fill` needs (0: nobody waits for room)

    @property
    def held(self) -> int:
        """Claimed items not finished yet (running or waiting for a thread)."""
        with self._changed:
            return self._held

    def fill(
        self, claim: Callable[[int], Sequence[T]], work: Callable[[T], None], limit: int
    ) -> int:
        """Claim and start items until a claim comes back short (nothing more is due) or
        `limit` were claimed; waits for room while the window is full. Returns how many were
        claimed. Called from one thread at a time (the worker's)."""
        claimed = 0
        while claimed < limit:
            self._wait_for_room(min(self.chunk, limit - claimed))
            want = min(self.window - self.held, limit - claimed)
            items = claim(want)
            claimed += len(items)
            for item in items:
                self._start(work, item)
            if len(items) < want:
                break
        return claimed

    def drain(self) -> None:
        """Wait until every claimed item is finished."""
        with self._changed:
            self._changed.wait_for(lambda: self._held == 0)

    def close(self) -> None:
        """Wait for every claimed item, then end the threads (a pipeline no longer fed)."""
        self.drain()
        self._pool.shutdown(wait=True)

    def _start(self, work: Callable[[T], None], item: T) -> None:
        with self._changed:
            self._held += 1
        # Called at once if it is already done, else by the thread that ran it.
        self._pool.submit(work, item).add_done_callback(self._finished)

    def _finished(self, _done: Future[None]) -> None:
        with self._changed:
            self._held -= 1
            if self._held == 0 or (self._wanted and self.window - self._held >= self._wanted):
                self._changed.notify_all()

    def _wait_for_room(self, places: int) -> None:
        with self._changed:
            self._wanted = places
            try:
                self._changed.wait_for(lambda: self.window - self._held >= places)
            finally:
                self._wanted = 0
