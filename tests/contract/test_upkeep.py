"""The store's upkeep: the due backlog operations reads at each scrape."""

from __future__ import annotations

from cartback.store.base import Store
from tests.contract.records import LEASE, MINUTE, T0, cart_with_due_run


def test_the_backlog_counts_due_pending_runs_and_the_oldest(store: Store) -> None:
    with store.reading() as tx:
        assert (tx.upkeep.backlog(T0).due, tx.upkeep.backlog(T0).oldest_due_at) == (0, None)
    for minutes in (5, 2, 0):
        cart_with_due_run(store, T0 - minutes * MINUTE)
    cart_with_due_run(store, T0 + MINUTE)  # not due yet
    with store.reading() as tx:
        backlog = tx.upkeep.backlog(T0)
    assert (backlog.due, backlog.oldest_due_at) == (3, T0 - 5 * MINUTE)

    [claim] = store.claim_due(T0, 1, LEASE)  # a claimed run waits for its lease
    assert claim.due_at == T0 - 5 * MINUTE
    with store.reading() as tx:
        backlog = tx.upkeep.backlog(T0)
    assert (backlog.due, backlog.oldest_due_at) == (2, T0 - 2 * MINUTE)


def test_claims_carry_the_time_their_step_was_due(store: Store) -> None:
    for minutes in (3, 1):
        cart_with_due_run(store, T0 - minutes * MINUTE)
    claims = store.claim_due(T0, 10, LEASE)
    assert sorted(c.due_at for c in claims if c.due_at) == [T0 - 3 * MINUTE, T0 - MINUTE]
