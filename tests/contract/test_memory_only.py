"""What only the in-memory store promises beyond the contract: it refuses misuse loudly."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cartback.domain.records import Run, RunStatus
from cartback.testing import InMemoryStore
from cartback.testing._tables import ReadOnly, updated
from tests.contract.records import HOUR, LEASE, MINUTE, T0, cart_with_due_run, consent, new_cart


def test_a_write_while_reading_is_refused() -> None:
    store = InMemoryStore()
    with pytest.raises(ReadOnly), store.reading() as tx:
        tx.consent.add(consent())
    with store.reading() as tx:
        assert tx.consent.history("+4520123456") == []


def test_reading_inside_a_transaction_sees_its_writes_and_cannot_write() -> None:
    store = InMemoryStore()
    with store.transaction() as tx:
        cart = new_cart(tx)
        with store.reading() as reader:
            assert reader.carts.get(cart.id) == cart
            with pytest.raises(ReadOnly):
                reader.consent.add(consent())
        tx.consent.add(consent())  # writable again once the reading block ends
    with store.reading() as tx:
        assert len(tx.consent.history("+4520123456")) == 1


def test_a_transaction_inside_a_transaction_is_refused() -> None:
    store = InMemoryStore()
    with store.transaction() as tx:
        new_cart(tx, cart_key="outer")
        with pytest.raises(RuntimeError, match="already open"), store.transaction():
            pass
    with store.reading() as tx:
        assert tx.carts.find("acme", "outer") is not None  # the outer one still committed


def test_many_timer_restarts_leave_each_run_due_once_at_its_last_time() -> None:
    store = InMemoryStore()
    runs = [cart_with_due_run(store, T0 + HOUR)[1] for _ in range(50)]
    with store.transaction() as tx:
        for minutes in range(100):  # far more heap entries than runs: the heap compacts
            for run in runs:
                tx.runs.restart_timer(run.id, T0 + HOUR + minutes * MINUTE, T0)
    last = T0 + HOUR + 99 * MINUTE
    assert store.claim_due(last - timedelta(seconds=1), 100, LEASE) == []
    claims = store.claim_due(last, 100, LEASE)
    assert sorted(c.id for c in claims) == sorted(r.id for r in runs)
    assert store.claim_due(last + LEASE - MINUTE, 100, LEASE) == []


def test_a_zero_lease_claims_a_run_once_per_call() -> None:
    store = InMemoryStore()
    _, run = cart_with_due_run(store)
    assert [c.id for c in store.claim_due(T0, 10, timedelta(0))] == [run.id]
    assert [c.id for c in store.claim_due(T0, 10, timedelta(0))] == [run.id]


def test_a_copy_with_a_field_that_does_not_exist_is_refused() -> None:
    run = Run(1, 1, "f", 0, RunStatus.PENDING, T0, T0, T0)
    assert updated(run, step_index=2) == Run(1, 1, "f", 2, RunStatus.PENDING, T0, T0, T0)
    with pytest.raises(TypeError, match="no field"):
        updated(run, stepindex=2)


def test_stored_headers_cannot_be_changed_through_the_record() -> None:
    from cartback.domain.records import NewDelivery

    store = InMemoryStore()
    headers = {"X-Topic": "a"}
    given = NewDelivery(
        platform="generic",
        store_id="acme",
        topic=None,
        delivery_key=None,
        headers=headers,
        body=b"{}",
        received_at=T0,
    )
    with store.transaction() as tx:
        delivery_id, _ = tx.deliveries.record(given)
    headers["X-Topic"] = "changed"
    with store.reading() as tx:
        kept = tx.deliveries.get(delivery_id)
    assert kept is not None and kept.headers["X-Topic"] == "a"
    with pytest.raises(TypeError):
        kept.headers["X-Topic"] = "b"  # type: ignore[index]
