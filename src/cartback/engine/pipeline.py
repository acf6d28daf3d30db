"""Keeping a worker's send threads busy: claim more due runs while earlier ones are still sending.

A tick that claims a batch and waits for all of it leaves threads idle while the slowest sends of
the batch finish. The pipeline holds up to `window` claimed runs (being worked on, or waiting for
a thread) and claims again as soon as `chunk` places of the window are free, so a thread that
finishes finds its next run ready. Claims stay bounded: never more than `window` runs are held
(each one's lease runs meanwhile), and one `fill` claims at most `limit`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

T = TypeVar("T")


class Pipeline(Generic[T]):
    """Work items claimed in chunks and run on `threads` threads, at most `window` held."""

    def __init__(self, threads: int, *, window: int, chunk: int, name: str) -> None:
        self.window = max(window, threads)
        self.chunk = max(1, min(chunk, self.window))
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._in_flight: set[Future[None]] = set()

    @property
    def held(self) -> int:
        """Claimed items not finished yet (running or waiting for a thread)."""
        self._in_flight = {future for future in self._in_flight if not future.done()}
        return len(self._in_flight)

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
                self._in_flight.add(self._pool.submit(work, item))
            if len(items) < want:
                break
        return claimed

    def drain(self) -> None:
        """Wait until every claimed item is finished."""
        wait(self._in_flight)
        self._in_flight.clear()

    def close(self) -> None:
        """Wait for every claimed item, then end the threads (a pipeline no longer fed)."""
        self.drain()
        self._pool.shutdown(wait=True)

    def _wait_for_room(self, places: int) -> None:
        while self.window - self.held < places:
            wait(self._in_flight, return_when=FIRST_COMPLETED)
