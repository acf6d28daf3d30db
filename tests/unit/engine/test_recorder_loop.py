"""The recorder where the store writes on an event loop (PostgreSQL's `LoopWriter`): the
webhooks awaiting on one loop are written there, one batch at a time, in arrival order."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from cartback.clock import FakeClock
from cartback.domain.records import NewDelivery
from cartback.engine.apply import Windows
from cartback.engine.ingest import Delivery, IngestService, Recorded
from cartback.engine.privacy import Privacy
from cartback.engine.recorder import Recorder
from cartback.testing import InMemoryStore

T = TypeVar("T")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


class _Writer:
    """A `LoopWriter` over the in-memory store: keeps each batch's keys and the loop it ran on;
    a batch may be held until released, and a key `bad` fails its batch."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.batches: list[list[str]] = []
        self.loops: set[asyncio.AbstractEventLoop] = set()
        self.hold: asyncio.Event | None = None
        self.closed = False

    async def record_many(self, batch: Sequence[NewDelivery]) -> list[tuple[int, bool]]:
        self.loops.add(asyncio.get_running_loop())
        self.batches.append([d.delivery_key or "" for d in batch])
        if self.hold is not None and len(self.batches) == 1:
            await self.hold.wait()
        if any(d.delivery_key == "bad" for d in batch):
            raise RuntimeError("a row the database refuses")
        return self.store.record_deliveries(batch)

    def close(self) -> None:
        self.closed = True


class _LoopStore(InMemoryStore):
    """An in-memory store that writes deliveries on the loop, as PostgreSQL does."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: list[_Writer] = []

    def loop_writer(self) -> _Writer:  # type: ignore[override]
        self.writers.append(_Writer(self))
        return self.writers[-1]


def _recorder() -> tuple[Recorder, _LoopStore]:
    store = _LoopStore()
    windows = Windows(timedelta(days=5), timedelta(hours=24))
    ingest = IngestService(store, FakeClock(NOW), lambda _s: [], windows, privacy=Privacy(b"k"))
    return Recorder(ingest), store


def _delivery(key: str) -> Delivery:
    return Delivery("shopify", "acme", "checkouts/update", key, {}, b"{}", f"checkout:{key}")


def _apart(work: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` of a coroutine in a thread of its own (this thread may run a loop)."""
    with ThreadPoolExecutor(max_workers=1) as apart:
        return apart.submit(asyncio.run, work).result(timeout=30)


def test_webhooks_waiting_together_are_one_batch_on_the_loop_in_arrival_order() -> None:
    recorder, store = _recorder()

    async def scenario() -> list[Recorded]:
        first = asyncio.ensure_future(recorder.record(_delivery("first")))
        await asyncio.sleep(0)  # the lane's task starts with the first alone
        [writer] = store.writers
        writer.hold = asyncio.Event()
        while not writer.batches:
            await asyncio.sleep(0)
        rest = [asyncio.ensure_future(recorder.record(_delivery(k))) for k in "abcab"]
        await asyncio.sleep(0)
        assert recorder.busy(), "deliveries wait to be written"
        writer.hold.set()
        return list(await asyncio.gather(first, *rest))

    results = _apart(scenario())
    [writer] = store.writers
    assert writer.batches == [["first"], ["a", "b", "c", "a", "b"]]
    ids = [result.delivery_id for result in results]
    assert ids[:4] == sorted(ids[:4]) and len(set(ids)) == 4, "ids in arrival order"
    assert ids[4] == ids[1] and ids[5] == ids[2]
    assert recorder._threads == [], "no thread wrote anything"


def test_a_batch_that_fails_on_the_loop_is_written_one_by_one() -> None:
    recorder, store = _recorder()

    async def scenario() -> list[Recorded | BaseException]:
        waiting = [recorder.record(_delivery(key)) for key in ("a", "bad", "b")]
        return list(await asyncio.gather(*waiting, return_exceptions=True))

    good_a, bad, good_b = _apart(scenario())
    assert isinstance(good_a, Recorded) and isinstance(good_b, Recorded)
    assert good_a.delivery_id < good_b.delivery_id
    assert isinstance(bad, RuntimeError) and "could not be stored" in str(bad)
    assert store.writers[0].batches == [["a", "bad", "b"], ["a"], ["bad"], ["b"]]


def test_a_webhook_that_stopped_waiting_does_not_stop_the_lane() -> None:
    recorder, store = _recorder()

    async def scenario() -> Recorded:
        first = asyncio.ensure_future(recorder.record(_delivery("first")))
        await asyncio.sleep(0)
        store.writers[0].hold = hold = asyncio.Event()
        gone = asyncio.ensure_future(recorder.record(_delivery("gone")))
        await asyncio.sleep(0)
        gone.cancel()
        hold.set()
        await first
        return await recorder.record(_delivery("later"))

    assert _apart(scenario()).delivery_id > 0


def test_other_threads_and_loops_write_through_the_loop_that_writes() -> None:
    """One lane at a time keeps the arrival order: while a loop writes, a thread's `submit` and
    another loop's `record` are written by it."""
    recorder, store = _recorder()
    started, done = threading.Event(), threading.Event()

    async def writing() -> None:
        await recorder.record(_delivery("first"))
        started.set()
        await asyncio.to_thread(done.wait, 30)

    async def elsewhere() -> Recorded:
        return await recorder.record(_delivery("from another loop"))

    with ThreadPoolExecutor(max_workers=2) as apart:
        running = apart.submit(asyncio.run, writing())
        assert started.wait(timeout=30)
        from_thread = recorder.submit(_delivery("from a thread")).result(timeout=30)
        from_loop = apart.submit(asyncio.run, elsewhere()).result(timeout=30)
        done.set()
        running.result(timeout=30)
    [writer] = store.writers
    assert len(writer.loops) == 1
    assert writer.batches == [["first"], ["from a thread"], ["from another loop"]]
    assert from_thread.delivery_id < from_loop.delivery_id
    assert recorder._threads == []


def test_once_the_writing_loop_ended_the_next_loop_takes_over() -> None:
    recorder, store = _recorder()

    async def one(key: str) -> Recorded:
        return await recorder.record(_delivery(key))

    first = _apart(one("first"))
    second = _apart(one("second"))
    assert first.delivery_id < second.delivery_id
    assert [w.batches for w in store.writers] == [[["first"]], [["second"]]]
    assert len(store.writers[0].loops | store.writers[1].loops) == 2


def test_a_store_that_writes_with_threads_keeps_the_threads() -> None:
    store = InMemoryStore()
    windows = Windows(timedelta(days=5), timedelta(hours=24))
    ingest = IngestService(store, FakeClock(NOW), lambda _s: [], windows, privacy=Privacy(b"k"))
    recorder = Recorder(ingest)

    async def one() -> Recorded:
        return await recorder.record(_delivery("a"))

    assert _apart(one()).delivery_id > 0
    assert len(recorder._threads) == 1 and recorder._lane is None


@pytest.mark.parametrize("size", [1, 3])
def test_a_batch_is_never_larger_than_asked(size: int) -> None:
    recorder, store = _recorder()
    recorder.batch = size

    async def scenario() -> None:
        first = asyncio.ensure_future(recorder.record(_delivery("first")))
        await asyncio.sleep(0)
        store.writers[0].hold = hold = asyncio.Event()
        rest = [asyncio.ensure_future(recorder.record(_delivery(str(n)))) for n in range(7)]
        await asyncio.sleep(0)
        hold.set()
        await asyncio.gather(first, *rest)

    _apart(scenario())
    sizes = [len(batch) for batch in store.writers[0].batches]
    assert max(sizes) <= size and sum(sizes) == 8
