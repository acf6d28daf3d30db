"""Units of work: all or nothing, one writer at a time, reads that see what was committed."""

from __future__ import annotations

import threading

import pytest

from cartback.domain.records import CartContents, CartStatus, MessageStatus, Suppression
from cartback.store.base import Store
from tests.contract.records import (
    HOUR,
    LEASE,
    T0,
    cart_with_due_run,
    consent,
    contents,
    message,
    new_cart,
)


class Boom(Exception):
    pass


def test_an_exception_undoes_every_write_of_the_unit(store: Store) -> None:
    kept, run = cart_with_due_run(store)
    with pytest.raises(Boom), store.transaction() as tx:
        cart = new_cart(tx, cart_key="gone")
        tx.carts.change(kept.id, status=CartStatus.DELETED)
        tx.runs.cancel_for_cart(kept.id, "deleted", T0)
        tx.messages.add(message(kept, run, id="gone-msg"))
        tx.consent.add(consent())
        tx.consent.suppress(Suppression("sms", "+4520123456", "x", "y", T0))
        tx.cursors.save("c", "1", T0)
        tx.codes.import_codes("acme", ["C1"], T0, None)
        assert tx.carts.get(cart.id) is not None  # the unit sees its own writes
        raise Boom
    with store.reading() as tx:
        assert tx.carts.find("acme", "gone") is None
        now_kept = tx.carts.get(kept.id)
        assert now_kept is not None and now_kept.status == CartStatus.OPEN
        still = tx.runs.for_cart(kept.id)
        assert still is not None and still.next_run_at == T0
        assert tx.messages.get("gone-msg") is None
        assert tx.consent.history("+4520123456") == []
        assert not tx.consent.is_suppressed("sms", "+4520123456")
        assert tx.cursors.get("c") is None
        assert tx.codes.remaining("acme", T0) == 0
    assert [c.id for c in store.claim_due(T0, 10, LEASE)] == [run.id]


def test_an_undone_update_restores_the_indexes(store: Store) -> None:
    with store.transaction() as tx:
        cart = new_cart(tx, cart_key="k", cart_token="t1")
    with pytest.raises(Boom), store.transaction() as tx:
        tx.carts.update_contents(cart.id, _moved(cart.store_id), T0 + HOUR)
        raise Boom
    with store.reading() as tx:
        assert tx.carts.find("acme", "k") == cart
        assert tx.carts.find_for_delete("acme", None, "t1") == cart
        assert tx.carts.find_for_delete("acme", None, "t2") is None
        assert tx.carts.stores_knowing_phone("+4520123456") == ["acme"]


def _moved(store_id: str) -> CartContents:
    return contents(store_id=store_id, cart_key="k", cart_token="t2", phone="+4520000009")


def test_a_message_status_change_undone(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    with store.transaction() as tx:
        tx.messages.add(message(cart, run, id="m1"))
    with pytest.raises(Boom), store.transaction() as tx:
        tx.messages.update("m1", status=MessageStatus.SENT, sent_at=T0)
        raise Boom
    with store.reading() as tx:
        found = tx.messages.get("m1")
    assert found is not None and found.status == MessageStatus.QUEUED and found.sent_at is None


def test_writers_take_turns(store: Store) -> None:
    """Many threads bump one cart's update count: no update is lost."""
    with store.transaction() as tx:
        cart = new_cart(tx, cart_key="hot")
    rounds, workers = 10, 4

    def bump() -> None:
        for _ in range(rounds):
            with store.transaction() as tx:
                found = tx.carts.get_for_update(cart.id)
                assert found is not None
                tx.carts.update_contents(cart.id, _moved("acme"), T0)

    threads = [threading.Thread(target=bump) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with store.reading() as tx:
        found = tx.carts.get(cart.id)
    assert found is not None and found.update_count == 1 + rounds * workers


def test_the_store_answers(store: Store) -> None:
    store.ping()
    assert store.kind in ("memory", "sqlite", "postgresql")
