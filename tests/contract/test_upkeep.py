"""The store's upkeep: the due backlog read at each scrape, and retention's purge."""

from __future__ import annotations

from datetime import datetime

from cartback.domain.engagement import Open
from cartback.domain.privacy import ERASED, ERASED_PREFIX
from cartback.domain.records import Click, DeliveryStatus, Link, MessageStatus, NewDelivery
from cartback.store.base import Store
from cartback.store.upkeep import Cutoffs, Purged
from tests.contract.records import (
    HOUR,
    LEASE,
    MINUTE,
    T0,
    cart_with_due_run,
    message,
    new_cart,
)


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


DAY = 24 * HOUR


def _delivery(key: str, received_at: datetime) -> NewDelivery:
    return NewDelivery(
        platform="generic",
        store_id="acme",
        topic="cart.updated",
        delivery_key=key,
        headers={},
        body=b'{"email": "ann@example.com"}',
        received_at=received_at,
    )


def test_purge_removes_personal_data_before_the_cutoffs_only(store: Store) -> None:
    with store.transaction() as tx:
        cart = new_cart(tx)
        old = message(cart, status=MessageStatus.SENT, created_at=T0 - 100 * DAY)
        new = message(cart, status=MessageStatus.SENT, created_at=T0 - DAY)
        for each, code in ((old, "code-old"), (new, "code-new")):
            tx.messages.add(each)
            tx.messages.add_link(Link(code, each.id, cart.id, "https://shop.example/r", T0))
        tx.messages.add_click(Click("code-old", old.id, cart.id, T0 - 200 * DAY, "Mozilla/5.0"))
        tx.messages.add_click(Click("code-new", new.id, cart.id, T0 - DAY, "Mozilla/5.0"))
        done, _ = tx.deliveries.record(_delivery("done", T0 - 40 * DAY))
        tx.deliveries.mark(done, DeliveryStatus.PROCESSED, T0 - 40 * DAY, None)
        failed, _ = tx.deliveries.record(_delivery("failed", T0 - 40 * DAY))
        tx.deliveries.mark(failed, DeliveryStatus.FAILED, T0 - 40 * DAY, "bad")
        waiting, _ = tx.deliveries.record(_delivery("waiting", T0 - 40 * DAY))
        recent, _ = tx.deliveries.record(_delivery("recent", T0 - DAY))
        tx.deliveries.mark(recent, DeliveryStatus.PROCESSED, T0 - DAY, None)
    cutoffs = Cutoffs(T0 - 30 * DAY, T0 - 90 * DAY, T0 - 180 * DAY)

    with store.reading() as tx:
        counted = tx.upkeep.purge(cutoffs, 100, dry_run=True)
    assert counted == Purged(raw_deliveries=2, message_texts=1, clicks=1)
    with store.transaction() as tx:
        assert tx.upkeep.purge(cutoffs, 1) == Purged(1, 1, 1)  # a batch of one of each
    with store.transaction() as tx:
        assert tx.upkeep.purge(cutoffs, 100) == Purged(1, 0, 0)
    with store.transaction() as tx:
        assert tx.upkeep.purge(cutoffs, 100) == Purged()  # purged rows are not counted again

    with store.reading() as tx:
        assert tx.deliveries.get(done) is None and tx.deliveries.get(failed) is None
        assert tx.deliveries.get(waiting) is not None  # not applied yet: stays
        assert tx.deliveries.get(recent) is not None
        erased, kept = tx.messages.get(old.id), tx.messages.get(new.id)
        clicks = {c.message_id: c for c in tx.messages.clicks_for_cart(cart.id)}
    assert erased is not None and (erased.body, erased.recipient) == (ERASED, ERASED)
    assert (erased.cost, erased.segments, erased.status) == (old.cost, 1, MessageStatus.SENT)
    assert kept == new
    assert clicks[old.id].user_agent is None and clicks[old.id].at == T0 - 200 * DAY
    assert clicks[new.id].user_agent == "Mozilla/5.0"


def test_purge_leaves_an_erasures_hash_alone(store: Store) -> None:
    hashed = f"{ERASED_PREFIX}0123456789abcdef"
    with store.transaction() as tx:
        cart = new_cart(tx)
        tx.messages.add(message(cart, recipient=hashed, body=ERASED, created_at=T0 - 100 * DAY))
    with store.transaction() as tx:
        assert tx.upkeep.purge(Cutoffs(message_texts=T0), 100) == Purged()


def test_purge_forgets_the_user_agent_of_old_email_opens_and_keeps_the_verdict(
    store: Store,
) -> None:
    with store.transaction() as tx:
        cart = new_cart(tx)
        email = message(cart, status=MessageStatus.SENT, created_at=T0 - 300 * DAY)
        tx.messages.add(email)
        tx.measure.add_open(Open(email.id, cart.id, T0 - 200 * DAY, "Mozilla/5.0 (Macintosh)"))
        tx.measure.add_open(Open(email.id, cart.id, T0 - 200 * DAY, "GoogleImageProxy", "proxy"))
        tx.measure.add_open(Open(email.id, cart.id, T0 - DAY, "Mozilla/5.0 (iPhone)"))
    cutoffs = Cutoffs(clicks=T0 - 180 * DAY)

    with store.reading() as tx:
        assert tx.upkeep.purge(cutoffs, 100, dry_run=True) == Purged(opens=2)
    with store.transaction() as tx:
        assert tx.upkeep.purge(cutoffs, 1) == Purged(opens=1)  # a batch of one
    with store.transaction() as tx:
        assert tx.upkeep.purge(cutoffs, 100) == Purged(opens=1)
    with store.transaction() as tx:
        assert tx.upkeep.purge(cutoffs, 100) == Purged()

    with store.reading() as tx:
        opened = tx.measure.opens_for_cart(cart.id)
    assert [(o.at, o.user_agent, o.bot_reason) for o in opened] == [
        (T0 - 200 * DAY, None, None),
        (T0 - 200 * DAY, None, "proxy"),
        (T0 - DAY, "Mozilla/5.0 (iPhone)", None),
    ]
