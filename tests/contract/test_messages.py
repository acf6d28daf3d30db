"""Messages, their attempts, short links and clicks."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone
from decimal import Decimal

import pytest

from cartback.domain.records import (
    Click,
    Link,
    MessageStatus,
    MessageTouch,
    RunStatus,
    SendAttempt,
)
from cartback.store.base import MessageChanges, Store
from cartback.store.sent import Onward
from tests.contract.records import (
    HOUR,
    LEASE,
    MINUTE,
    T0,
    cart_with_due_run,
    claim_one,
    decision,
    message,
    new_cart,
)


def test_a_message_comes_back_as_written(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    given = message(cart, run, link_code="abc123", discount_code="SAVE10", discount_pending=True)
    with store.transaction() as tx:
        tx.messages.add(given)
    with store.reading() as tx:
        found = tx.messages.get(given.id)
        assert tx.messages.get("nope") is None
        assert tx.messages.for_step(run.id, 0) == found
        assert tx.messages.for_step(run.id, 1) is None
    assert found == given
    assert found is not None and found.cost == Decimal("0.30") and found.attempts == 0


def test_one_message_per_run_and_step_and_per_id(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    with store.transaction() as tx:
        tx.messages.add(message(cart, run))
        tx.messages.add(message(cart, run, step_index=1))
        tx.messages.add(message(cart))  # no run: no step to collide on
        tx.messages.add(message(cart))
    with pytest.raises(Exception), store.transaction() as tx:  # noqa: B017
        tx.messages.add(message(cart, run, step_index=2))
        tx.messages.add(message(cart, run, step_index=1))
    with pytest.raises(Exception), store.transaction() as tx:  # noqa: B017
        tx.messages.add(message(cart, id="dup"))
        tx.messages.add(message(cart, id="dup"))
    with store.reading() as tx:
        assert tx.messages.for_step(run.id, 2) is None
        assert tx.messages.get("dup") is None
        assert len(tx.messages.for_cart(cart.id)) == 4


def test_updating_a_message_after_the_gateway_answered(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    given = message(cart, run)
    sent_at = T0.astimezone(timezone(timedelta(hours=-5)))
    with store.transaction() as tx:
        tx.messages.add(given)
        tx.messages.update(
            given.id,
            status=MessageStatus.SENT,
            provider_message_id="SM1",
            sent_at=sent_at,
            status_at=T0,
            provider_segments=2,
            cost=Decimal("0.60"),
            channel_used="sms",
            segments=2,
            encoding="ucs2",
            body="Hej",
            discount_code=None,
            discount_pending=False,
            error_code=None,
            error=None,
        )
    with store.reading() as tx:
        found = tx.messages.get(given.id)
        assert tx.messages.by_provider_id("fake", "SM1") == found
        assert tx.messages.by_provider_id("other", "SM1") is None
    assert found is not None and found.status == MessageStatus.SENT
    assert found.sent_at == T0 and found.sent_at.utcoffset() == timedelta(0)
    assert (found.provider_segments, found.cost, found.segments) == (2, Decimal("0.60"), 2)
    assert (found.encoding, found.body, found.channel_used) == ("ucs2", "Hej", "sms")


def test_a_cart_s_messages_oldest_first(store: Store) -> None:
    cart, _ = cart_with_due_run(store)
    with store.transaction() as tx:
        later = message(cart, created_at=T0 + HOUR)
        earlier = message(cart, created_at=T0)
        tx.messages.add(later)
        tx.messages.add(earlier)
        tx.messages.add(message(new_cart(tx)))
    with store.reading() as tx:
        assert [m.id for m in tx.messages.for_cart(cart.id)] == [earlier.id, later.id]
        assert tx.messages.for_cart(cart.id + 1000) == []


def test_what_a_run_has_sent(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    _, quiet = cart_with_due_run(store)
    statuses = [
        ("sms", MessageStatus.QUEUED),
        ("rcs", MessageStatus.SENT),
        ("sms", MessageStatus.DELIVERED),
        ("sms", MessageStatus.FAILED),
        ("email", MessageStatus.SENT),
        ("sms", MessageStatus.SKIPPED),
    ]
    with store.transaction() as tx:
        for index, (channel, status) in enumerate(statuses):
            tx.messages.add(message(cart, run, step_index=index, channel=channel, status=status))
    with store.reading() as tx:
        assert tx.messages.any_for_run(run.id)
        assert not tx.messages.any_for_run(quiet.id)
        assert tx.messages.sms_in_run(run.id) == 3
        assert tx.messages.sms_in_run(quiet.id) == 0


def test_the_last_message_to_an_address_from_any_flow(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    other_cart, other_run = cart_with_due_run(store, store_id="b")
    phone = cart.phone or ""
    with store.transaction() as tx:
        tx.messages.add(message(cart, run, created_at=T0 + 3 * HOUR))
        tx.messages.add(message(other_cart, other_run, created_at=T0 + HOUR))
        tx.messages.add(
            message(
                other_cart,
                other_run,
                step_index=1,
                created_at=T0 + 2 * HOUR,
                status=MessageStatus.FAILED,
            )
        )
        tx.messages.add(message(cart, run, step_index=1, recipient="+4520000000"))
    with store.reading() as tx:
        assert tx.messages.last_to_recipient(phone, exclude_run=None) == T0 + 3 * HOUR
        assert tx.messages.last_to_recipient(phone, exclude_run=run.id) == T0 + HOUR
        assert tx.messages.last_to_recipient("+4599999999", exclude_run=None) is None
        tx.messages.lock_recipient(phone)  # a no-op where nothing races
        mine = tx.messages.for_recipient(phone)
    assert [m.created_at for m in mine] == [T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]


def test_a_message_without_a_run_counts_for_every_run(store: Store) -> None:
    """The cooldown looks at every promotional message to the address: one that belongs to no
    run (SQL's `run_id != :run` alone would pass over it) is another run's for this purpose."""
    cart, run = cart_with_due_run(store)
    phone = cart.phone or ""
    with store.transaction() as tx:
        tx.messages.add(message(cart, run, created_at=T0 + HOUR))
        tx.messages.add(
            replace(message(cart, run, step_index=1, created_at=T0 + 2 * HOUR), run_id=None)
        )
    with store.reading() as tx:
        assert tx.messages.last_to_recipient(phone, exclude_run=run.id) == T0 + 2 * HOUR
        assert tx.messages.last_to_recipient(phone, exclude_run=None) == T0 + 2 * HOUR


def test_attempts_are_kept_and_counted_on_their_message(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    given = message(cart, run)
    with store.transaction() as tx:
        tx.messages.add(given)
        tx.messages.add_attempt(SendAttempt(given.id, 2, T0 + MINUTE, 80, "sent", 200))
        tx.messages.add_attempt(SendAttempt(given.id, 1, T0, 10_000, "retry", None, "timed out"))
    with pytest.raises(Exception), store.transaction() as tx:  # noqa: B017
        tx.messages.add_attempt(SendAttempt(given.id, 1, T0, 1, "sent"))
    with pytest.raises(Exception), store.transaction() as tx:  # noqa: B017
        tx.messages.add_attempt(SendAttempt("no-such-message", 1, T0, 1, "sent"))
    with store.reading() as tx:
        attempts = tx.messages.attempts(given.id)
        found = tx.messages.get(given.id)
        assert tx.messages.attempts("nope") == []
    assert [a.number for a in attempts] == [1, 2]
    assert attempts[0] == SendAttempt(given.id, 1, T0, 10_000, "retry", None, "timed out")
    assert found is not None and found.attempts == 2


def test_an_attempt_is_written_with_its_messages_outcome(store: Store) -> None:
    """The message's changes go with the attempt, only to its message; the rest stays."""
    cart, run = cart_with_due_run(store)
    given, other = message(cart, run), message(cart, run, step_index=1)
    sent_at = T0 + MINUTE
    with store.transaction() as tx:
        tx.messages.add(given)
        tx.messages.add(other)
        tx.messages.add_attempt(
            SendAttempt(given.id, 1, T0, 120, "retry", 503, "busy"), error="busy", status_at=T0
        )
        tx.messages.add_attempt(
            SendAttempt(given.id, 2, sent_at, 80, "sent", 200),
            status=MessageStatus.SENT,
            provider_message_id="p-1",
            error=None,
            sent_at=sent_at,
            status_at=sent_at,
        )
    with store.reading() as tx:
        found, untouched = tx.messages.get(given.id), tx.messages.get(other.id)
        attempts = tx.messages.attempts(given.id)
    assert found is not None and found.attempts == 2
    assert (found.status, found.provider_message_id, found.error) == (
        MessageStatus.SENT,
        "p-1",
        None,
    )
    assert found.sent_at == sent_at and found.status_at == sent_at
    assert (found.body, found.recipient, found.cost) == (given.body, given.recipient, given.cost)
    assert attempts == [
        SendAttempt(given.id, 1, T0, 120, "retry", 503, "busy"),
        SendAttempt(given.id, 2, sent_at, 80, "sent", 200),
    ]
    assert untouched == other


def test_a_message_is_added_with_its_link(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    given = message(cart, run, link_code="l1nk")
    link = Link("l1nk", given.id, cart.id, "https://shop/recover", T0)
    with store.transaction() as tx:
        tx.messages.add(given, link)
    clashing = message(cart, run, step_index=1, link_code="l1nk")
    with pytest.raises(Exception), store.transaction() as tx:  # noqa: B017
        tx.messages.add(clashing, replace(link, message_id=clashing.id))  # the code is taken
    with store.reading() as tx:
        assert tx.messages.get(given.id) == given
        assert tx.messages.link("l1nk") == link
        assert tx.messages.get(clashing.id) is None  # nothing of the failed write stayed


@pytest.mark.parametrize("held", [1, 2, 16, 17])
def test_a_message_with_its_link_keeps_the_batchs_decisions_in_order(
    store: Store, held: int
) -> None:
    """Decisions held in a batch when a message is added (on PostgreSQL written in the message's
    own statement, whatever their count) and one held after it: every one kept, in the order
    taken, with all its values (those left empty too), the message and its link beside them."""
    cart, run = cart_with_due_run(store)
    given = message(cart, run, link_code="b4tch")
    link = Link("b4tch", given.id, cart.id, "https://shop/recover", T0)
    before = [
        decision(cart, run_id=run.id, flow_id="cart-sms", step_index=n, at=T0 + n * MINUTE)
        if n % 2 == 0
        else decision(cart, at=T0 + n * MINUTE, until=T0 + n * HOUR, detail=f"Held {n}.")
        for n in range(held)
    ]
    after = decision(cart, run_id=run.id, action="send", reason="ok", detail="After.", until=T0)
    with store.transaction() as tx, tx.decisions.batch():
        for entry in before:
            tx.decisions.add(entry)
        tx.messages.add(given, link)
        tx.decisions.add(after)
    with store.reading() as tx:
        kept = tx.decisions.for_cart(cart.id)
        assert tx.messages.get(given.id) == given and tx.messages.link("b4tch") == link
    written = [replace(entry, id=None) for entry in [*before, after]]
    assert [replace(entry, id=None) for entry in kept] == written
    assert [entry.id for entry in kept] == sorted(entry.id for entry in kept)  # type: ignore[type-var]


def test_links_and_clicks(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    given = message(cart, run, link_code="c0de")
    with store.transaction() as tx:
        tx.messages.add(given)
        tx.messages.add_link(Link("c0de", given.id, cart.id, "https://shop/recover", T0))
        tx.messages.add_click(Click("c0de", given.id, cart.id, T0 + 2 * HOUR, "Mozilla/5.0"))
        tx.messages.add_click(Click("c0de", given.id, cart.id, T0 + HOUR, "x" * 400))
        tx.messages.retarget_link("c0de", "https://shop/cart")
        tx.messages.retarget_link("nope", "https://shop/cart")
    with pytest.raises(Exception), store.transaction() as tx:  # noqa: B017
        tx.messages.add_link(Link("c0de", given.id, cart.id, "https://elsewhere", T0))
    with store.reading() as tx:
        link = tx.messages.link("c0de")
        clicks = tx.messages.clicks_for_cart(cart.id)
        assert tx.messages.link("nope") is None
        assert tx.messages.clicks_for_cart(cart.id + 1000) == []
    assert link == Link("c0de", given.id, cart.id, "https://shop/cart", T0)
    assert [c.at for c in clicks] == [T0 + HOUR, T0 + 2 * HOUR]
    assert clicks[0].id > 0 and clicks[0].id != clicks[1].id
    assert clicks[1].user_agent == "Mozilla/5.0"
    assert clicks[0].user_agent == "x" * 300  # the column's width


def test_touches_are_sent_messages_with_their_latest_click(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    clicked = message(cart, run, status=MessageStatus.SENT, sent_at=T0, link_code="a")
    delivered = message(cart, run, step_index=1, status=MessageStatus.DELIVERED, sent_at=T0 + HOUR)
    failed = message(cart, run, step_index=2, status=MessageStatus.FAILED, sent_at=T0)
    queued = message(cart, run, step_index=3)
    with store.transaction() as tx:
        for each in (clicked, delivered, failed, queued):
            tx.messages.add(each)
        tx.messages.add_link(Link("a", clicked.id, cart.id, "https://shop", T0))
        for minutes in (5, 50, 20):
            tx.messages.add_click(Click("a", clicked.id, cart.id, T0 + minutes * MINUTE))
    with store.reading() as tx:
        touches = sorted(tx.messages.touches(cart.id), key=lambda t: t.sent_at)
    assert touches == [
        MessageTouch(clicked.id, T0, T0 + 50 * MINUTE),
        MessageTouch(delivered.id, T0 + HOUR, None),
    ]


def test_a_page_of_messages_newest_first(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    with store.transaction() as tx:
        given = [
            message(cart, run, step_index=n, created_at=T0 + n * MINUTE, status=status)
            for n, status in enumerate(
                [MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.SENT, MessageStatus.QUEUED]
            )
        ]
        for each in given:
            tx.messages.add(each)
        tx.messages.add(message(new_cart(tx, store_id="b"), created_at=T0 + HOUR))
    with store.reading() as tx:
        everything = tx.messages.page(store_id=None, status=None, limit=10, offset=0)
        sent = tx.messages.page(store_id="acme", status="sent", limit=10, offset=0)
        second = tx.messages.page(store_id="acme", status=None, limit=1, offset=1)
    assert len(everything) == 5 and everything[0].store_id == "b"
    assert [m.id for m in sent] == [given[2].id, given[0].id]
    assert [m.id for m in second] == [given[2].id]


def test_pages_of_messages_follow_each_other_by_the_last_one_seen(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    with store.transaction() as tx:
        given = [
            message(cart, run, step_index=n, created_at=T0 + (n // 2) * MINUTE) for n in range(5)
        ]
        for each in given:
            tx.messages.add(each)
    expected = [m.id for m in sorted(given, key=lambda m: (m.created_at, m.id), reverse=True)]
    walked: list[str] = []
    after: str | None = None
    with store.reading() as tx:
        for _ in range(10):  # more than enough pages: a list that never ends fails
            page = tx.messages.page(store_id="acme", status=None, limit=2, offset=0, after=after)
            if not page:
                break
            walked += [x.id for x in page]
            after = page[-1].id
    assert walked == expected


def test_updating_a_message_that_is_not_there_changes_nothing(store: Store) -> None:
    with store.transaction() as tx:
        tx.messages.update("nope", status=MessageStatus.SENT)
        tx.messages.retarget_link("nope", "https://x")
    with store.reading() as tx:
        assert tx.messages.get("nope") is None


@pytest.mark.parametrize("move", ["ends", "waits", "claim lost", "none"])
def test_a_message_sent_is_written_with_its_runs_move(store: Store, move: str) -> None:
    """`record_sent`: the attempt, its message's outcome and the run's move, together (one
    statement on PostgreSQL); a lost claim moves nothing and the message is written all the
    same, as in a transaction."""
    cart, run = cart_with_due_run(store)
    claim = claim_one(store)
    given, other = message(cart, run), message(cart, run, step_index=1)
    with store.transaction() as tx:
        tx.messages.add(given)
        tx.messages.add(other)
    if move == "claim lost":
        claim_one(store, T0 + LEASE)  # another worker's now
    onward = {
        "ends": Onward(claim),
        "waits": Onward(claim, 2, timedelta(hours=24)),
        "claim lost": Onward(claim),
        "none": None,
    }[move]
    sent_at, now = T0 + MINUTE, T0 + 2 * MINUTE
    changes: MessageChanges = {
        "status": MessageStatus.SENT,
        "provider_message_id": "p-1",
        "error": None,
        "sent_at": sent_at,
        "status_at": sent_at,
    }
    store.record_sent(SendAttempt(given.id, 1, sent_at, 80, "sent", 200), changes, onward, now)

    with store.reading() as tx:
        found, untouched = tx.messages.get(given.id), tx.messages.get(other.id)
        attempts = tx.messages.attempts(given.id)
        after = tx.runs.for_cart(cart.id)
    assert attempts == [SendAttempt(given.id, 1, sent_at, 80, "sent", 200)]
    assert found is not None and found.attempts == 1 and found.status == MessageStatus.SENT
    assert (found.provider_message_id, found.sent_at, found.body) == ("p-1", sent_at, given.body)
    assert untouched is not None and untouched.attempts == 0
    assert untouched.status == other.status
    assert after is not None
    if move == "ends":
        assert (after.status, after.ended_reason, after.next_run_at) == (RunStatus.DONE, "ok", None)
        assert after.claim_token is None and after.updated_at == now
    elif move == "waits":
        assert (after.status, after.step_index) == (RunStatus.PENDING, 2)
        assert after.next_run_at == now + timedelta(hours=24) and after.updated_at == now
        assert after.claim_token == claim.claim_token  # the next claim replaces it
    else:  # a lost claim, or no move: the run is as the last claim left it
        assert (after.status, after.step_index) == (RunStatus.PENDING, run.step_index)
        assert after.updated_at != now and after.ended_reason is None
