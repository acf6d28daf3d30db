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

Where the store can write on an event loop (`Store.loop_writer`: PostgreSQL, with psycopg's
asynchronous connection), a server's loop writes its webhooks' deliveries itself, and no thread
is involved (`_LoopLane`): the batches are taken the same way, one at a time, so the ids and the
commits keep the arrival order. The first loop that records writes, as long as it runs; a
thread's `submit`, or another loop's `record`, is written by it meanwhile (a second writer beside
it could commit a later delivery first). Under load the threads' two hand-offs per batch, and
the interpreter's lock passed between them and the loop, took about a tenth of the server's CPU.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import Future

from cartback.engine.ingest import Delivery, IngestService, Recorded
from cartback.store.base import LoopWriter

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
        self._lane: _LoopLane | None = None  # where the store writes on an event loop
        self._binding = threading.Lock()

    def busy(self, within: float = 0.05) -> bool:
        """Whether webhooks arrive: something waits, or was written `within` seconds."""
        lane = self._lane
        if not self._waiting.empty() or (lane is not None and lane.waiting):
            return True
        last = max(self._last_write, lane.last_write if lane is not None else float("-inf"))
        return time.monotonic() - last < within

    def submit(self, delivery: Delivery) -> Future[Recorded]:
        """The delivery's `Recorded`, once it is committed (from any thread)."""
        lane = self._lane
        if lane is not None and lane.open():
            return asyncio.run_coroutine_threadsafe(lane.record(delivery), lane.loop)
        done: Future[Recorded] = Future()
        self._put(delivery, done)
        return done

    async def record(self, delivery: Delivery) -> Recorded:
        """The delivery's `Recorded`, once it is committed, awaited on the running loop."""
        loop = asyncio.get_running_loop()
        lane = self._lane_for(loop)
        if lane is None:
            done: asyncio.Future[Recorded] = loop.create_future()
            self._put(delivery, done)
            return await done
        if lane.loop is loop:
            return await lane.record(delivery)
        # Another loop writes (one at a time keeps the arrival order): wait for it from here.
        return await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(lane.record(delivery), lane.loop)
        )

    def _lane_for(self, loop: asyncio.AbstractEventLoop) -> _LoopLane | None:
        """The loop that writes the deliveries: the first to ask, while it runs; None where the
        store writes with threads."""
        lane = self._lane
        if lane is not None and (lane.loop is loop or lane.open()):
            return lane
        with self._binding:
            if self._lane is lane:  # none yet, or its loop ended: this one writes from now on
                writer = self.ingest.store.loop_writer()
                if writer is None:
                    return None
                if lane is not None:
                    lane.writer.close()
                self._lane = _LoopLane(loop, self.ingest, writer, self.batch)
            return self._lane

    def close(self) -> None:
        """On shutdown: close the loop's connection (the threads' come from the store's pool)."""
        with self._binding:
            lane, self._lane = self._lane, None
        if lane is not None:
            lane.writer.close()

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


class _LoopLane:
    """The deliveries awaited on one event loop, written there by one task in turns: it takes
    whatever waits (up to `batch`), stores it through the store's `LoopWriter`, answers each
    webhook, and takes the next. One batch at a time keeps the ids and the commits in arrival
    order; the ones that arrive while a batch is written go in the next. A batch that fails is
    written again one by one."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, ingest: IngestService, writer: LoopWriter, batch: int
    ) -> None:
        self.loop = loop
        self.ingest = ingest
        self.writer = writer
        self.batch = batch
        self.waiting: deque[tuple[Delivery, asyncio.Future[Recorded]]] = deque()
        self.last_write = float("-inf")
        self._task: asyncio.Task[None] | None = None

    def open(self) -> bool:
        return self.loop.is_running() and not self.loop.is_closed()

    async def record(self, delivery: Delivery) -> Recorded:
        """On the lane's loop."""
        done: asyncio.Future[Recorded] = self.loop.create_future()
        self.waiting.append((delivery, done))
        if self._task is None:
            self._task = self.loop.create_task(self._write())
        return await done

    async def _write(self) -> None:
        try:
            while self.waiting:
                count = min(len(self.waiting), self.batch)
                batch = [self.waiting.popleft() for _ in range(count)]
                outcomes = await self._record(batch)
                self.last_write = time.monotonic()
                for (_, done), result in outcomes:
                    if done.done():
                        continue  # its request went away
                    if isinstance(result, BaseException):
                        done.set_exception(result)
                    else:
                        done.set_result(result)
        finally:
            self._task = None

    async def _record(
        self, batch: list[tuple[Delivery, asyncio.Future[Recorded]]]
    ) -> list[tuple[tuple[Delivery, asyncio.Future[Recorded]], Recorded | BaseException]]:
        try:
            results = await self.ingest.record_on_loop(self.writer, [d for d, _ in batch])
            return list(zip(batch, results, strict=True))
        except Exception:
            if len(batch) == 1:
                log.exception("storing a delivery failed")
                return [(batch[0], RuntimeError(_FAILED))]
        return [outcome for one in batch for outcome in await self._record([one])]
