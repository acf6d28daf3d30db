"""The recorder: deliveries of concurrent webhooks stored together, each answered with its own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cartback.clock import FakeClock
from cartback.engine.apply import Windows
from cartback.engine.ingest import Delivery, IngestService, Recorded
from cartback.engine.privacy import Privacy
from cartback.engine.recorder import Recorder
from cartback.testing import InMemoryStore

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
Inserted = Callable[[], None] | None


def _ingest() -> IngestService:
    windows = Windows(timedelta(days=5), timedelta(hours=24))
    return IngestService(
        InMemoryStore(), FakeClock(NOW), lambda _store: [], windows, privacy=Privacy(b"key")
    )


def _delivery(key: str) -> Delivery:
    return Delivery("shopify", "acme", "checkouts/update", key, {}, b"{}", f"checkout:{key}")


def test_each_webhook_gets_its_own_delivery_and_a_repeat_the_same() -> None:
    recorder = Recorder(_ingest())
    waiting = [recorder.submit(_delivery(key)) for key in ("a", "b", "a")]
    first, second, again = (done.result(timeout=10) for done in waiting)
    assert first.delivery_id != second.delivery_id
    assert again.delivery_id == first.delivery_id


def test_a_batch_that_fails_is_written_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = _ingest()
    original = ingest.record_many
    sizes: list[int] = []

    def picky(batch: Sequence[Delivery], inserted: Inserted = None) -> list[Recorded]:
        sizes.append(len(batch))
        if any(delivery.delivery_key == "bad" for delivery in batch):
            raise RuntimeError("a row the database refuses")
        return original(batch, inserted)

    monkeypatch.setattr(ingest, "record_many", picky)
    recorder = Recorder(ingest)
    batch = [_delivery(key) for key in ("a", "bad", "b")]
    waiting = [recorder.submit(delivery) for delivery in batch]
    good_a, bad, good_b = waiting
    assert good_a.result(timeout=10).delivery_id > 0
    assert good_b.result(timeout=10).delivery_id > 0
    with pytest.raises(RuntimeError, match="could not be stored"):
        bad.result(timeout=10)
    assert 1 in sizes, "the failing delivery was tried on its own"


def test_an_event_loop_is_woken_once_for_a_whole_batch() -> None:
    """Webhooks awaiting `record` on one loop: the deliveries that waited together are written
    in one batch and handed back in one call into the loop, each with its own result."""
    ingest = _ingest()
    original = ingest.record_many
    first_taken, release = threading.Event(), threading.Event()
    sizes: list[int] = []

    def held(batch: Sequence[Delivery], inserted: Inserted = None) -> list[Recorded]:
        sizes.append(len(batch))
        if len(sizes) == 1:  # hold the first batch until the others wait behind it
            first_taken.set()
            release.wait(timeout=10)
        return original(batch, inserted)

    ingest.record_many = held  # type: ignore[method-assign]
    recorder = Recorder(ingest, writers=1)

    async def scenario() -> tuple[list[Recorded], int]:
        loop = asyncio.get_running_loop()
        wakes = 0
        plain = loop.call_soon_threadsafe

        def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal wakes
            wakes += 1
            return plain(*args, **kwargs)

        first = asyncio.ensure_future(recorder.record(_delivery("first")))
        await asyncio.to_thread(first_taken.wait, 10)
        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        rest = [asyncio.ensure_future(recorder.record(_delivery(k))) for k in "abcab"]
        await asyncio.sleep(0)  # each has put its delivery in the queue
        release.set()
        results = await asyncio.gather(first, *rest)
        return list(results), wakes

    # A loop of its own, in a thread of its own: this thread may have one running already.
    with ThreadPoolExecutor(max_workers=1) as apart:
        results, wakes = apart.submit(asyncio.run, scenario()).result(timeout=30)
    assert sizes == [1, 5], "the five that waited were written together"
    assert wakes == 2, "one wake-up for each batch, not one for each webhook"
    ids = [result.delivery_id for result in results]
    assert len(set(ids)) == 4 and ids[1] == ids[4] and ids[2] == ids[5]


def test_two_writers_overlap_a_commit_with_the_next_insert_and_commit_in_order() -> None:
    """The second batch is taken and inserted while the first waits for its commit, yet it is
    committed only after the first: ids and visibility both keep the arrival order."""
    ingest = _ingest()
    original = ingest.record_many
    steps: list[str] = []
    first_inserted, second_inserted = threading.Event(), threading.Event()
    first_may_commit = threading.Event()

    def slow_first_commit(batch: Sequence[Delivery], inserted: Inserted = None) -> list[Recorded]:
        name = batch[0].delivery_key or "?"
        steps.append(f"insert {name}")
        (first_inserted if name == "first" else second_inserted).set()
        assert inserted is not None
        inserted()  # the next writer may take a batch; returns once it is this one's turn
        if name == "first":
            first_may_commit.wait(timeout=10)
        steps.append(f"commit {name}")
        return original(batch)

    ingest.record_many = slow_first_commit  # type: ignore[method-assign]
    recorder = Recorder(ingest, writers=2)
    first = recorder.submit(_delivery("first"))
    assert first_inserted.wait(timeout=10)
    second = recorder.submit(_delivery("second"))
    assert second_inserted.wait(timeout=10), "the second batch was inserted meanwhile"
    first_may_commit.set()
    assert first.result(timeout=10).delivery_id < second.result(timeout=10).delivery_id
    assert steps == ["insert first", "insert second", "commit first", "commit second"]


def test_a_webhook_that_stopped_waiting_does_not_stop_the_writer() -> None:
    ingest = _ingest()
    original = ingest.record_many
    first_taken, release = threading.Event(), threading.Event()

    def held(batch: Sequence[Delivery], inserted: Inserted = None) -> list[Recorded]:
        if batch[0].delivery_key == "first":
            first_taken.set()
            release.wait(timeout=10)
        return original(batch, inserted)

    ingest.record_many = held  # type: ignore[method-assign]
    recorder = Recorder(ingest, writers=1)
    first = recorder.submit(_delivery("first"))
    assert first_taken.wait(timeout=10)
    gone = recorder.submit(_delivery("gone"))
    assert gone.cancel(), "its caller went away before it was written"
    release.set()
    assert first.result(timeout=10).delivery_id > 0
    assert recorder.submit(_delivery("later")).result(timeout=10).delivery_id > 0
