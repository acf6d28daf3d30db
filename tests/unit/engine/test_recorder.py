"""The recorder: deliveries of concurrent webhooks stored together, each answered with its own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from cartback.clock import FakeClock
from cartback.engine.apply import Windows
from cartback.engine.ingest import Delivery, IngestService, Recorded
from cartback.engine.privacy import Privacy
from cartback.engine.recorder import Recorder
from cartback.testing import InMemoryStore

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


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

    def picky(batch: Sequence[Delivery]) -> list[Recorded]:
        sizes.append(len(batch))
        if any(delivery.delivery_key == "bad" for delivery in batch):
            raise RuntimeError("a row the database refuses")
        return original(batch)

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
