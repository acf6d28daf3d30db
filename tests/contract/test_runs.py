"""Runs and their claims: the queue the workers share."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError

from cartback.domain.experiments import Assignment
from cartback.domain.records import WAITING_FOR_ABANDONMENT, CartStatus, Claim, RunStatus
from cartback.store.base import Store
from tests.contract.records import (
    HOUR,
    LEASE,
    MINUTE,
    T0,
    cart_with_due_run,
    claim_one,
    decision,
    new_cart,
)


def test_a_run_starts_waiting_for_its_carts_abandonment(store: Store) -> None:
    with store.transaction() as tx:
        cart = new_cart(tx)
        run = tx.runs.start(cart.id, "cart-sms", T0 + 30 * MINUTE, T0)
    with store.reading() as tx:
        found = tx.runs.for_cart(cart.id)
        assert tx.runs.for_cart(cart.id + 1) is None
    assert found == run
    assert (run.cart_id, run.flow_id, run.step_index) == (cart.id, "cart-sms", -1)
    assert run.status == RunStatus.PENDING and run.next_run_at == T0 + 30 * MINUTE
    assert run.created_at == run.updated_at == T0
    assert run.claim_token is None and run.claimed_at is None and run.ended_reason is None


def test_a_cart_has_one_run(store: Store) -> None:
    cart, _ = cart_with_due_run(store)
    with pytest.raises(Exception), store.transaction() as tx:  # noqa: B017
        tx.runs.start(cart.id, "other", T0, T0)
    with pytest.raises(Exception), store.transaction() as tx:  # noqa: B017
        tx.runs.start(cart.id + 1000, "cart-sms", T0, T0)  # no such cart


def test_claiming_takes_due_runs_oldest_first_up_to_the_limit(store: Store) -> None:
    runs = [cart_with_due_run(store, T0 - n * MINUTE)[1] for n in (2, 0, 3, 1)]
    cart_with_due_run(store, T0 + MINUTE)  # not due yet
    claims = store.claim_due(T0, 3, LEASE)
    # the three that were due first (in no promised order: SQL's RETURNING has none)
    assert {c.id for c in claims} == {runs[2].id, runs[0].id, runs[3].id}
    assert len({c.claim_token for c in claims}) == 1
    assert [c.step_index for c in claims] == [WAITING_FOR_ABANDONMENT] * 3
    [last] = store.claim_due(T0, 3, LEASE)
    assert last.id == runs[1].id and last.claim_token != claims[0].claim_token
    assert store.claim_due(T0, 3, LEASE) == []


def test_a_claim_moves_the_run_to_the_end_of_its_lease(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    claim = claim_one(store, T0 + MINUTE)
    assert (claim.id, claim.cart_id, claim.flow_id) == (run.id, cart.id, "cart-sms")
    with store.reading() as tx:
        held = tx.runs.for_cart(cart.id)
    assert held is not None
    assert held.claim_token == claim.claim_token and held.claimed_at == T0 + MINUTE
    assert held.next_run_at == T0 + MINUTE + LEASE
    assert store.claim_due(T0 + MINUTE + LEASE - MINUTE, 10, LEASE) == []


def test_a_lease_that_runs_out_lets_another_worker_take_the_run(store: Store) -> None:
    cart, _ = cart_with_due_run(store)
    first = claim_one(store)
    second = claim_one(store, T0 + LEASE)
    assert second.id == first.id and second.claim_token != first.claim_token
    with store.transaction() as tx:
        assert not tx.runs.hold(first)
        assert not tx.runs.advance(first, 1, T0 + HOUR, T0 + LEASE)
        assert not tx.runs.move_on(first, 1, T0 + LEASE)
        assert not tx.runs.wait_for_abandonment(first, "x", T0 + HOUR, T0 + LEASE)
        assert not tx.runs.finish(first, RunStatus.DONE, "ok", T0 + LEASE)
        assert tx.runs.hold(second)
    with store.reading() as tx:
        run = tx.runs.for_cart(cart.id)
    assert run is not None and run.status == RunStatus.PENDING and run.step_index == -1


def test_advance_moves_a_claimed_run_to_its_next_step(store: Store) -> None:
    cart, _ = cart_with_due_run(store)
    claim = claim_one(store)
    with store.transaction() as tx:
        assert tx.runs.advance(claim, 2, T0 + HOUR, T0 + MINUTE)
        assert tx.runs.hold(claim)  # the token stays until the next claim
    with store.reading() as tx:
        run = tx.runs.for_cart(cart.id)
    assert run is not None
    assert (run.step_index, run.next_run_at, run.updated_at) == (2, T0 + HOUR, T0 + MINUTE)
    assert store.claim_due(T0 + HOUR - MINUTE, 10, LEASE) == []
    again = claim_one(store, T0 + HOUR)
    assert again.step_index == 2 and again.claim_token != claim.claim_token


def test_move_on_records_progress_and_keeps_the_run_hidden(store: Store) -> None:
    cart, _ = cart_with_due_run(store)
    claim = claim_one(store)
    with store.transaction() as tx:
        assert tx.runs.move_on(claim, 0, T0 + MINUTE, flow_id="vip-flow")
        assert tx.runs.move_on(claim, 1, T0 + MINUTE)
    with store.reading() as tx:
        run = tx.runs.for_cart(cart.id)
    assert run is not None and (run.step_index, run.flow_id) == (1, "vip-flow")
    assert run.next_run_at == T0 + LEASE
    assert store.claim_due(T0 + MINUTE, 10, LEASE) == []


@pytest.mark.parametrize("lost", [False, True], ids=["claim held", "claim lost"])
def test_entering_a_flow_abandons_the_cart_with_the_move(store: Store, lost: bool) -> None:
    """`move_on(abandoned=True)`: the run's cart is abandoned with the move (one statement on
    PostgreSQL), the run held as after any move; a lost claim changes neither."""
    cart, _ = cart_with_due_run(store)
    claim = claim_one(store)
    if lost:
        claim_one(store, T0 + LEASE)  # another worker's now
    wanted = Assignment(False, (("exp", "b"),))
    with store.transaction() as tx:
        moved = tx.runs.move_on(
            claim, 0, T0 + MINUTE, flow_id="vip-flow", assigned=wanted, abandoned=True
        )
        assert moved is not lost
        assert tx.runs.hold(claim) is not lost
    with store.reading() as tx:
        run, after = tx.runs.for_cart(cart.id), tx.carts.get(cart.id)
    assert run is not None and after is not None
    if lost:
        assert (after.status, after.abandoned_at) == (cart.status, cart.abandoned_at)
        assert (run.flow_id, run.step_index) == ("cart-sms", WAITING_FOR_ABANDONMENT)
        return
    assert (after.status, after.abandoned_at) == (CartStatus.ABANDONED, T0 + MINUTE)
    assert (after.email, after.updated_at) == (cart.email, cart.updated_at)  # nothing else
    assert (run.flow_id, run.step_index, run.assignment) == ("vip-flow", 0, wanted)


def test_waiting_for_a_longer_abandonment(store: Store) -> None:
    cart, _ = cart_with_due_run(store)
    claim = claim_one(store)
    with store.transaction() as tx:
        assert tx.runs.wait_for_abandonment(claim, "slow-flow", T0 + 2 * HOUR, T0)
    with store.reading() as tx:
        run = tx.runs.for_cart(cart.id)
    assert run is not None
    assert (run.flow_id, run.step_index, run.next_run_at) == ("slow-flow", -1, T0 + 2 * HOUR)
    assert claim_one(store, T0 + 2 * HOUR).flow_id == "slow-flow"


def test_a_claim_carries_the_runs_assignment(store: Store) -> None:
    """None until the cart is assigned; then the claim has it, as the run stores it."""
    _cart, run = cart_with_due_run(store)
    assert claim_one(store).assigned is None
    kept = Assignment(True, (("timing", "slow"),))
    with store.transaction() as tx:
        tx.measure.assign(run.id, kept)
    assert claim_one(store, T0 + LEASE).assigned == kept


@pytest.mark.parametrize("waits", [False, True])
def test_an_assignment_is_written_with_the_runs_move(store: Store, waits: bool) -> None:
    """Into the flow, or waiting for it: the cart's holdout and arms go with the move, and the
    next claim carries them."""
    cart, _ = cart_with_due_run(store)
    claim = claim_one(store)
    wanted = Assignment(False, (("timing", "fast"), ("wording", "b")))
    with store.transaction() as tx:
        if waits:
            assert tx.runs.wait_for_abandonment(claim, "slow-flow", T0 + HOUR, T0, assigned=wanted)
        else:
            assert tx.runs.move_on(claim, 0, T0, flow_id="vip-flow", assigned=wanted)
            assert tx.runs.move_on(claim, 1, T0)  # a later move leaves it as it is
    with store.reading() as tx:
        run = tx.runs.for_cart(cart.id)
    assert run is not None and run.assignment == wanted
    assert claim_one(store, T0 + (HOUR if waits else LEASE)).assigned == wanted


def test_a_lost_claim_writes_no_assignment(store: Store) -> None:
    cart, _ = cart_with_due_run(store)
    first = claim_one(store)
    claim_one(store, T0 + LEASE)  # the lease ran out: another worker holds it now
    with store.transaction() as tx:
        assert not tx.runs.move_on(first, 0, T0 + LEASE, assigned=Assignment(True, ()))
    with store.reading() as tx:
        run = tx.runs.for_cart(cart.id)
    assert run is not None and run.assignment is None


@pytest.mark.parametrize("status", [RunStatus.DONE, RunStatus.CANCELLED])
def test_a_finished_run_is_never_claimed_again(store: Store, status: RunStatus) -> None:
    cart, _ = cart_with_due_run(store)
    claim = claim_one(store)
    with store.transaction() as tx:
        assert tx.runs.finish(claim, status, "flow_ended", T0 + MINUTE)
        assert not tx.runs.hold(claim)
        assert not tx.runs.finish(claim, status, "again", T0 + MINUTE)
    with store.reading() as tx:
        run = tx.runs.for_cart(cart.id)
    assert run is not None and run.status == status and run.ended_reason == "flow_ended"
    assert run.next_run_at is None and run.claim_token is None
    assert store.claim_due(T0 + 10 * HOUR, 10, LEASE) == []


def test_restarting_the_timer_sends_the_run_back_to_wait(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    claim = claim_one(store)
    with store.transaction() as tx:
        tx.runs.move_on(claim, 1, T0)
        tx.runs.restart_timer(run.id, T0 + HOUR, T0 + MINUTE)
        assert not tx.runs.hold(claim)  # the claim is void
    with store.reading() as tx:
        restarted = tx.runs.for_cart(cart.id)
    assert restarted is not None
    assert (restarted.step_index, restarted.status) == (-1, RunStatus.PENDING)
    assert restarted.next_run_at == T0 + HOUR and restarted.claim_token is None
    assert store.claim_due(T0 + LEASE, 10, LEASE) == []
    assert claim_one(store, T0 + HOUR).id == run.id


def test_cancelling_a_carts_run_whoever_holds_it(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    claim = claim_one(store)
    with store.transaction() as tx:
        tx.runs.move_on(claim, 2, T0)
        cancelled = tx.runs.cancel_for_cart(cart.id, "purchased", T0 + MINUTE)
        assert tx.runs.cancel_for_cart(cart.id, "again", T0 + MINUTE) is None
        assert not tx.runs.hold(claim)
        nothing = tx.runs.cancel_for_cart(cart.id + 1000, "x", T0)
    assert cancelled is not None and nothing is None
    assert (cancelled.id, cancelled.flow_id, cancelled.step_index) == (run.id, "cart-sms", 2)
    with store.reading() as tx:
        ended = tx.runs.for_cart(cart.id)
    assert ended is not None and ended.status == RunStatus.CANCELLED
    assert ended.ended_reason == "purchased" and ended.next_run_at is None
    assert store.claim_due(T0 + HOUR, 10, LEASE) == []


def test_a_claim_rolled_back_with_its_unit_of_work_is_not_lost(store: Store) -> None:
    cart, _ = cart_with_due_run(store)
    claim = claim_one(store)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.runs.advance(claim, 3, T0 + HOUR, T0)
        raise RuntimeError("worker crashed")
    with store.reading() as tx:
        run = tx.runs.for_cart(cart.id)
    assert run is not None and run.step_index == -1 and run.next_run_at == T0 + LEASE
    assert claim_one(store, T0 + LEASE).id == claim.id


def test_racing_workers_never_share_a_run(store: Store) -> None:
    for n in range(24):
        cart_with_due_run(store, T0 - n * MINUTE)
    taken: list[Claim] = []
    lock = threading.Lock()

    def work() -> None:
        while claims := store.claim_due(T0, 3, LEASE):
            with lock:
                taken.extend(claims)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 24 and len({c.id for c in taken}) == 24


def test_decisions_come_back_in_the_order_they_were_taken(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    with store.transaction() as tx:
        other = new_cart(tx)
        tx.decisions.add(decision(cart, action="abandon", reason="abandoned", run_id=run.id))
        tx.decisions.add(decision(other))
        tx.decisions.add(
            decision(
                cart,
                at=T0 - HOUR,
                action="defer",
                reason="quiet_hours",
                run_id=run.id,
                flow_id="cart-sms",
                step_index=0,
                until=T0 + 8 * HOUR,
            )
        )
    with store.reading() as tx:
        entries = tx.decisions.for_cart(cart.id)
        assert tx.decisions.for_cart(cart.id + 1000) == []
    assert [e.action for e in entries] == ["abandon", "defer"]
    assert entries[0].id < entries[1].id
    deferred = entries[1]
    assert (deferred.run_id, deferred.flow_id, deferred.step_index) == (run.id, "cart-sms", 0)
    assert deferred.until == T0 + 8 * HOUR and deferred.at == T0 - HOUR
    assert deferred.detail == "No consent on record."


def test_a_decision_names_a_cart_that_exists(store: Store) -> None:
    cart, _ = cart_with_due_run(store)
    with pytest.raises(Exception), store.transaction() as tx:  # noqa: B017
        tx.decisions.add(decision(cart, cart_id=cart.id + 1000))


def test_decisions_in_a_batch_are_written_together_in_their_order(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    first = decision(cart, run_id=run.id, action="abandon", reason="abandoned")
    second = decision(cart, run_id=run.id, action="send", reason="ok", at=T0 + MINUTE)
    with store.transaction() as tx:
        tx.decisions.add(decision(cart, detail="before the batch"))
        with tx.decisions.batch():
            tx.decisions.add(first)
            with tx.decisions.batch():  # within another: written with the outer one's
                tx.decisions.add(second)
            seen_inside = [d.action for d in tx.decisions.for_cart(cart.id)]
            tx.decisions.add(decision(cart, detail="after a look"))
    with store.reading() as tx:
        taken = tx.decisions.for_cart(cart.id)
    assert seen_inside == ["skip", "abandon", "send"]
    assert [d.detail for d in taken] == [
        "before the batch",
        first.detail,
        second.detail,
        "after a look",
    ]
    assert [d.action for d in taken] == ["skip", "abandon", "send", "skip"]
    assert taken[2].at == T0 + MINUTE and taken[1].run_id == run.id


def test_a_long_batch_keeps_every_decision_and_its_values(store: Store) -> None:
    """More decisions than one statement takes (SQL writes a batch in INSERTs of 16 rows), every
    value of every row as given: times from another zone come back in UTC, absent ones as
    None, in the order they were added."""
    cart, run = cart_with_due_run(store)
    elsewhere = timezone(timedelta(hours=2))
    given = [
        decision(
            cart,
            run_id=run.id if n % 2 else None,
            flow_id=f"flow-{n}",
            step_index=n,
            at=(T0 + n * MINUTE).astimezone(elsewhere),
            action="defer" if n % 3 else "send",
            reason=f"reason-{n}",
            detail=f"Decision {n}.",
            until=T0 + n * HOUR if n % 4 else None,
        )
        for n in range(35)
    ]
    with store.transaction() as tx, tx.decisions.batch():
        for entry in given:
            tx.decisions.add(entry)
    with store.reading() as tx:
        taken = tx.decisions.for_cart(cart.id)
    assert [replace(d, id=None) for d in taken] == [replace(d, id=None) for d in given]
    assert all(d.at.utcoffset() == timedelta(0) for d in taken)

    naive = replace(given[20], at=datetime(2026, 11, 30, 12, 0))  # of no zone: refused
    with (
        pytest.raises((ValueError, StatementError)),
        store.transaction() as tx,
        tx.decisions.batch(),
    ):
        for entry in [*given[:20], naive]:
            tx.decisions.add(entry)


def test_a_batch_that_raises_writes_nothing(store: Store) -> None:
    cart, _ = cart_with_due_run(store)
    with pytest.raises(RuntimeError), store.transaction() as tx, tx.decisions.batch():
        tx.decisions.add(decision(cart))
        raise RuntimeError("the step failed")
    missing = decision(cart, cart_id=cart.id + 1000)  # no such cart
    with pytest.raises(Exception), store.transaction() as tx, tx.decisions.batch():  # noqa: B017
        tx.decisions.add(missing)
    with store.reading() as tx:
        assert tx.decisions.for_cart(cart.id) == []
