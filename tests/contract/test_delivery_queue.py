"""Deliveries to apply: claimed like due runs, one sequence (a cart) at a time, in arrival order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from cartback.domain.records import DeliveryStatus, NewDelivery
from cartback.store.base import Store
from tests.contract.records import MINUTE, T0

LEASE = timedelta(minutes=5)


def _delivery(key: str | None, sequence: str | None) -> NewDelivery:
    return NewDelivery(
        platform="shopify",
        store_id="acme",
        topic="checkouts/update",
        delivery_key=key,
        headers={"x-test": "1"},
        body=b"{}",
        received_at=T0,
        sequence_key=sequence,
    )


def _record(store: Store, *pairs: tuple[str, str | None]) -> list[int]:
    with store.transaction() as tx:
        return [tx.deliveries.record(_delivery(key, sequence))[0] for key, sequence in pairs]


def _claim(store: Store, limit: int = 10, at: timedelta = timedelta(0)) -> list[int]:
    with store.transaction() as tx:
        return [d.id for d in tx.deliveries.claim(T0 + at, limit, LEASE)]


def _done(store: Store, *ids: int) -> None:
    with store.transaction() as tx:
        for delivery_id in ids:
            tx.deliveries.mark(delivery_id, DeliveryStatus.PROCESSED, T0, None)


def test_only_the_oldest_received_delivery_of_a_sequence_is_claimed(store: Store) -> None:
    create_a, create_b, update_a, loose = _record(
        store, ("1", "acme:a"), ("2", "acme:b"), ("3", "acme:a"), ("4", None)
    )

    assert _claim(store) == [create_a, create_b, loose]
    assert _claim(store) == [], "leased: another worker gets none of them, nor what waits"

    _done(store, create_a)
    assert _claim(store) == [update_a]


def test_a_claim_is_limited_and_oldest_first(store: Store) -> None:
    ids = _record(store, *((str(n), f"acme:{n}") for n in range(5)))
    assert _claim(store, limit=2) == ids[:2]
    assert _claim(store, limit=10) == ids[2:]


def test_a_lease_that_ran_out_is_claimed_again_and_keeps_the_sequence(store: Store) -> None:
    first, _second = _record(store, ("1", "acme:a"), ("2", "acme:a"))
    assert _claim(store) == [first]
    assert _claim(store, at=LEASE - MINUTE) == []
    assert _claim(store, at=LEASE + MINUTE) == [first], "its worker died: claimed again"


def test_a_failed_delivery_no_longer_holds_its_sequence(store: Store) -> None:
    first, second = _record(store, ("1", "acme:a"), ("2", "acme:a"))
    assert _claim(store) == [first]
    with store.transaction() as tx:
        tx.deliveries.mark(first, DeliveryStatus.FAILED, T0, "broken")
    assert _claim(store) == [second]
    with store.reading() as tx:
        kept = tx.deliveries.get(second)
    assert kept is not None and kept.sequence_key == "acme:a"


def _in_a_transaction(store: Store, batch: list[NewDelivery]) -> list[tuple[int, bool]]:
    with store.transaction() as tx:
        return tx.deliveries.record_many(batch)


def _on_its_own(store: Store, batch: list[NewDelivery]) -> list[tuple[int, bool]]:
    """The webhooks' way (PostgreSQL: one statement that commits itself)."""
    told: list[str] = []
    kept = store.record_deliveries(batch, lambda: told.append("inserted"))
    assert told == ["inserted"], "told once that the rows are in"
    return kept


def _on_a_loop(store: Store, batch: list[NewDelivery]) -> list[tuple[int, bool]]:
    """A server's event loop's way, where the store has one (PostgreSQL)."""
    writer = store.loop_writer()
    if writer is None:
        pytest.skip(f"{store.kind} stores deliveries with the recorder's threads only")
    try:
        with ThreadPoolExecutor(max_workers=1) as apart:  # this thread may run a loop
            return apart.submit(asyncio.run, writer.record_many(batch)).result(timeout=30)
    finally:
        writer.close()


@pytest.mark.parametrize("record_many", [_in_a_transaction, _on_its_own, _on_a_loop])
def test_many_deliveries_are_recorded_at_once_in_order_each_key_once(
    store: Store, record_many: Callable[[Store, list[NewDelivery]], list[tuple[int, bool]]]
) -> None:
    [(before, _)] = record_many(store, [_delivery("old", "acme:a")])
    batch = [
        _delivery("k1", "acme:a"),
        _delivery("old", "acme:a"),
        _delivery("k2", "acme:b"),
        _delivery("k1", "acme:a"),
        _delivery(None, "acme:c"),
        _delivery(None, "acme:c"),
    ]
    kept = record_many(store, batch)
    ids = [delivery_id for delivery_id, _ in kept]
    assert ids[1] == before and ids[3] == ids[0], "a repeated key is the stored delivery"
    assert len(set(ids)) == 5 and ids[0] < ids[2] < ids[4] < ids[5], "new ones in order"
    assert not any(duplicate for _, duplicate in kept), "none was processed yet"
    with store.reading() as tx:
        stored = tx.deliveries.get(ids[2])
    assert stored is not None and (stored.delivery_key, stored.sequence_key) == ("k2", "acme:b")
    assert stored.headers == {"x-test": "1"} and stored.body == b"{}"
    assert stored.received_at == T0 and stored.status == DeliveryStatus.RECEIVED
    assert stored.topic == "checkouts/update"


def test_a_batch_tells_a_key_stored_for_another_store_apart(store: Store) -> None:
    """The same delivery key in two stores is two deliveries: one stored before is found as
    a repeat in its own store only, and a key repeated within the batch is one new delivery."""
    elsewhere = NewDelivery(
        platform="shopify",
        store_id="other",
        topic="checkouts/update",
        delivery_key="same",
        headers={},
        body=b"{}",
        received_at=T0,
        sequence_key="other:a",
    )
    with store.transaction() as tx:
        [(before, _)] = tx.deliveries.record_many([elsewhere])
        tx.deliveries.mark(before, DeliveryStatus.PROCESSED, T0, None)
    with store.transaction() as tx:
        kept = tx.deliveries.record_many(
            [_delivery("same", "acme:a"), elsewhere, _delivery("same", "acme:a")]
        )
    (mine, mine_done), (theirs, theirs_done), (again, _) = kept
    assert theirs == before and theirs_done, "the other store's is the stored, processed one"
    assert mine != before and not mine_done and again == mine
    with store.reading() as tx:
        stored = tx.deliveries.get(mine)
    assert stored is not None and stored.store_id == "acme"
