"""Storing the deliveries of concurrent webhooks together: one transaction for many.

A webhook is answered only once its delivery is committed, and a commit waits for the disk
(PostgreSQL flushes its log; SQLite takes its one write lock). So the deliveries that arrive
while one commit is under way are written together in the next: a writer thread takes
whatever is waiting (up to `batch`), records it in one transaction and hands each webhook its
result. Under load that is one commit for many answers; alone, a delivery waits for nothing.
A batch that fails is written again one by one, so one bad delivery fails only its own webhook.

On PostgreSQL a batch is one statement that commits itself (`Store.record_deliveries`), and
two writers take turns: while one hands its webhooks their answers, the next batch is taken
and inserted. The arrival order is kept all the same,
as the queue applies a cart's deliveries in it: a writer takes a batch and inserts it while
holding `_taking` (so ids grow in arrival order), and a transaction that commits after its
insert (SQLite's) commits only after the batch before it ended (so no delivery becomes
visible before an earlier one). SQLite has one write lock: one writer there.
An event loop that waits for deliveries (`record`) is woken once per batch, not once per
delivery: each wake-up is a write to the loop's pipe and a turn of the loop that the answers
themselves need.
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


def default_writers(ingest: IngestService) -> int:
    """Two where commits can overlap (PostgreSQL), else one."""
    return 2 if ingest.store.kind == "postgresql" else 1


class Recorder:
    def __init__(self, ingest: IngestService, batch: int = 64, writers: int | None = None) -> None:
        self.ingest = ingest
        self.batch = batch
        self.writers = writers if writers is not None else default_writers(ingest)
        self._waiting: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._starting = threading.Lock()
        self._taking = threading.Lock()  # held from taking a batch until it is inserted
        self._turns = threading.Condition()
        self._numbered = 0  # batches taken (the next one's number)
        self._ended = 0  # batches whose transaction ended, all in order
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
        if len(self._threads) < self.writers:
            self._start()
        self._waiting.put((delivery, done))

    def _start(self) -> None:
        with self._starting:
            while len(self._threads) < self.writers:
                name = f"cartback-recorder-{len(self._threads)}"
                writer = threading.Thread(target=self._write, name=name, daemon=True)
                self._threads.append(writer)
                writer.start()

    def _write(self) -> None:
        while True:
            self._taking.acquire()  # released by `_record_in_turn` once the batch is inserted
            batch, number = self._take(), self._numbered
            self._numbered += 1
            outcomes = self._record_in_turn(batch, number)
            self._last_write = time.monotonic()
            try:
                _settle(outcomes)
            except Exception:  # the writer must live on: every later webhook waits for it
                log.exception("handing stored deliveries back failed")

    def _take(self) -> list[_Waiting]:
        batch = [self._waiting.get()]
        while len(batch) < self.batch:
            try:
                batch.append(self._waiting.get_nowait())
            except queue.Empty:
                break
        return batch

    def _record_in_turn(
        self, batch: list[_Waiting], number: int
    ) -> list[tuple[_Waiting, Recorded | BaseException]]:
        """Insert the batch (then let the next writer take one), commit it once the batch before
        it ended; a failed batch is written again one by one after its turn."""
        waited = False

        def inserted() -> None:
            nonlocal waited
            self._taking.release()
            waited = True
            self._await_turn(number)

        try:
            results = self.ingest.record_many([delivery for delivery, _ in batch], inserted)
        except Exception:
            results = None
        finally:
            if not waited:
                self._taking.release()
                self._await_turn(number)
            self._end_turn(number)
        if results is None:
            return [outcome for one in batch for outcome in self._record(one)]
        return list(zip(batch, results, strict=True))

    def _await_turn(self, number: int) -> None:
        with self._turns:
            self._turns.wait_for(lambda: self._ended == number)

    def _end_turn(self, number: int) -> None:
        with self._turns:
            self._ended = number + 1
            self._turns.notify_all()

    def _record(self, one: _Waiting) -> list[tuple[_Waiting, Recorded | BaseException]]:
        """One delivery of a failed batch, on its own."""
        try:
            [result] = self.ingest.record_many([one[0]])
        except Exception:
            log.exception("storing a delivery failed")
            return [(one, RuntimeError(_FAILED))]
        return [(one, result)]


def _settle(outcomes: list[tuple[_Waiting, Recorded | BaseException]]) -> None:
    """Hand each webhook its result: thread futures at once, each event loop in one call."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = defaultdict(list)
    for (_, done), result in outcomes:
        if isinstance(done, asyncio.Future):
            by_loop[done.get_loop()].append((done, result))
        elif not done.set_running_or_notify_cancel():
            continue  # cancelled by its caller: nobody waits for it
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
