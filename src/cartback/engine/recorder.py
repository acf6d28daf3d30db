"""Storing the deliveries of concurrent webhooks together: one transaction for many.

A webhook is answered only once its delivery is committed, and a commit waits for the disk
(PostgreSQL flushes its log; SQLite takes its one write lock). So the deliveries that arrive
while one commit is under way are written together in the next: a writer thread takes
whatever is waiting (up to `batch`), records it in one transaction and hands each webhook its
result. Under load that is one commit for many answers; alone, a delivery waits for nothing.
A batch that fails is written again one by one, so one bad delivery fails only its own webhook.

One writer keeps the arrival order: deliveries are numbered as they came, which is the order
the queue applies a cart's deliveries in. An event loop that waits for deliveries (`record`)
is woken once per batch, not once per delivery: each wake-up is a write to the loop's pipe
and a turn of the loop that the answers themselves need.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import defaultdict
from concurrent.futures import Future

from cartback.engine.ingest import Delivery, IngestService, Recorded

log = logging.getLogger("cartback.ingest")

_Waiting = tuple[Delivery, "Future[Recorded] | asyncio.Future[Recorded]"]
_Outcome = tuple["asyncio.Future[Recorded]", "Recorded | BaseException"]
_FAILED = "the delivery could not be stored"


class Recorder:
    def __init__(self, ingest: IngestService, batch: int = 64) -> None:
        self.ingest = ingest
        self.batch = batch
        self._waiting: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._starting = threading.Lock()
        self._last_write = float("-inf")  # time.monotonic() of the last batch written

    def busy(self, within: float = 0.05) -> bool:
        """Whether webhooks arrive: something waits, or was written `within` seconds."""
        return not self._waiting.empty() or time.monotonic() - self._last_write < within

    def submit(self, delivery: Delivery) -> Future[Recorded]:
        """The delivery's `Recorded`, once it is committed (from any thread)."""
        done: Future[Recorded] = Future()
        self._put(delivery, done)
        return done

    async def record(self, delivery: Delivery) -> Recorded:
        """The delivery's `Recorded`, once it is committed, awaited on the running loop."""
        done: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        self._put(delivery, done)
        return await done

    def _put(self, delivery: Delivery, done: Future[Recorded] | asyncio.Future[Recorded]) -> None:
        if self._writer is None:
            self._start()
        self._waiting.put((delivery, done))

    def _start(self) -> None:
        with self._starting:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write, name="cartback-recorder", daemon=True
                )
                self._writer.start()

    def _write(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self.batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            _settle(self._record(batch))
            self._last_write = time.monotonic()

    def _record(self, batch: list[_Waiting]) -> list[tuple[_Waiting, Recorded | BaseException]]:
        """Each waiting delivery with its result, or the error that stands for it."""
        try:
            results = self.ingest.record_many([delivery for delivery, _ in batch])
        except Exception:
            if len(batch) > 1:
                return [outcome for one in batch for outcome in self._record([one])]
            log.exception("storing a delivery failed")
            return [(batch[0], RuntimeError(_FAILED))]
        return list(zip(batch, results, strict=True))


def _settle(outcomes: list[tuple[_Waiting, Recorded | BaseException]]) -> None:
    """Hand each webhook its result: thread futures at once, each event loop in one call."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = defaultdict(list)
    for (_, done), result in outcomes:
        if isinstance(done, asyncio.Future):
            by_loop[done.get_loop()].append((done, result))
        elif isinstance(result, BaseException):
            done.set_exception(result)
        else:
            done.set_result(result)
    for loop, waiting in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, waiting)
        except RuntimeError:  # that loop is closed: nobody waits any more
            log.debug("a finished event loop's deliveries were stored")


def _resolve(waiting: list[_Outcome]) -> None:
    """On the loop: set each future that still waits (one whose request went away does not)."""
    for done, result in waiting:
        if done.done():
            continue
        if isinstance(result, BaseException):
            done.set_exception(result)
        else:
            done.set_result(result)
