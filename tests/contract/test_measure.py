"""What measuring keeps: a run's assignment (once), bot verdicts on clicks, email opens, what a
run's messages got, and each assigned cart's outcome for the report."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from cartback.domain.engagement import Click, Link, Open
from cartback.domain.experiments import Assignment, Winner
from cartback.domain.orders import OrderStatus
from cartback.domain.outcomes import PlacedOrder
from cartback.domain.privacy import Subject
from cartback.domain.records import CartStatus, MessageStatus, MessageTouch
from cartback.store.base import Store
from tests.contract.records import HOUR, MINUTE, T0, cart_with_due_run, message, order

FAST = Assignment(False, (("delay", "fast"), ("flow.step1", "plain")))


def test_the_first_assignment_of_a_run_is_kept(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    with store.transaction() as tx:
        assert tx.measure.assign(run.id, FAST) == FAST
        assert tx.measure.assign(run.id, Assignment(True, (("delay", "slow"),))) == FAST
    with store.reading() as tx:
        kept = tx.runs.for_cart(cart.id)
    assert kept is not None and kept.assignment == FAST
    assert kept.held_out is False and dict(kept.arms) == {"delay": "fast", "flow.step1": "plain"}


def test_a_run_not_yet_assigned_has_no_assignment(store: Store) -> None:
    cart, _run = cart_with_due_run(store)
    with store.reading() as tx:
        found = tx.runs.for_cart(cart.id)
    assert found is not None and found.held_out is None and found.assignment is None


def test_a_bot_click_keeps_its_verdict_and_counts_for_nothing(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    sent = message(cart, run, status=MessageStatus.SENT, sent_at=T0, link_code="a")
    with store.transaction() as tx:
        tx.messages.add(sent)
        tx.messages.add_link(Link("a", sent.id, cart.id, "https://shop", T0))
        tx.messages.add_click(
            Click(
                "a", sent.id, cart.id, T0 + MINUTE, "Slackbot", 0, "Slack link preview", "preview"
            )
        )
    with store.reading() as tx:
        [click] = tx.messages.clicks_for_cart(cart.id)
        assert tx.messages.touches(cart.id) == [MessageTouch(sent.id, T0, None)]
        assert tx.messages.click_counts([sent.id]) == {}
        assert tx.measure.engagement(run.id) == (frozenset(), frozenset())
    assert click.bot and click.bot_reason == "Slack link preview" and click.agent_class == "preview"


def test_opens_and_clicks_by_people_are_the_run_s_engagement(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    email = message(cart, run, channel="email", status=MessageStatus.SENT, sent_at=T0)
    sms = message(cart, run, step_index=1, status=MessageStatus.SENT, sent_at=T0, link_code="b")
    with store.transaction() as tx:
        tx.messages.add(email)
        tx.messages.add(sms)
        tx.messages.add_link(Link("b", sms.id, cart.id, "https://shop", T0))
        tx.measure.add_open(Open(email.id, cart.id, T0 + MINUTE, "Mozilla/5.0"))
        tx.measure.add_open(Open(sms.id, cart.id, T0 + MINUTE, "GoogleImageProxy", "a proxy"))
        tx.messages.add_click(Click("b", sms.id, cart.id, T0 + HOUR, "Mozilla/5.0"))
    with store.reading() as tx:
        assert tx.measure.engagement(run.id) == (frozenset({"email"}), frozenset({"sms"}))
        assert tx.measure.engagement(run.id + 1000) == (frozenset(), frozenset())
        found = tx.measure.opens_for_cart(cart.id)
        assert tx.measure.opens_for_cart(cart.id + 1000) == []
    assert [(o.message_id, o.bot_reason) for o in found] == [(email.id, None), (sms.id, "a proxy")]
    assert found[0].at == T0 + MINUTE and found[0].user_agent == "Mozilla/5.0" and found[0].id > 0


def test_outcomes_are_the_assigned_abandoned_carts_with_messages_and_first_order(
    store: Store,
) -> None:
    cart, run = cart_with_due_run(store)
    other, _unassigned = cart_with_due_run(store)
    sent = message(
        cart,
        run,
        status=MessageStatus.DELIVERED,
        sent_at=T0,
        link_code="c",
        discount_code="TEN",
        experiment_id="flow.step1",
        arm="plain",
    )
    failed = message(cart, run, step_index=1, status=MessageStatus.FAILED)
    with store.transaction() as tx:
        for each in (cart, other):
            tx.carts.change(each.id, status=CartStatus.ABANDONED, abandoned_at=T0)
        tx.measure.assign(run.id, FAST)
        tx.messages.add(sent)
        tx.messages.add(failed)
        tx.messages.add_link(Link("c", sent.id, cart.id, "https://shop", T0))
        tx.messages.add_click(Click("c", sent.id, cart.id, T0 + MINUTE, "Mozilla/5.0"))
        tx.messages.add_click(Click("c", sent.id, cart.id, T0, None, 0, "no user agent", "machine"))
        tx.measure.add_open(Open(sent.id, cart.id, T0 + MINUTE, "Mozilla/5.0"))
        later = order(cart, placed_at=T0 + 2 * HOUR, total=Decimal("50"))
        tx.orders.add(order(cart, discount_total=Decimal("40.50"), status=OrderStatus.OPEN))
        tx.orders.add(later)
    with store.reading() as tx:
        [found] = tx.measure.outcomes("acme", None)
        assert tx.measure.outcomes("acme", T0 + MINUTE) == []
        assert tx.measure.outcomes("acme", None, flow_id="elsewhere") == []
        assert tx.measure.outcomes("other-store", None) == []
    assert (found.cart_id, found.flow_id, found.held_out) == (cart.id, run.flow_id, False)
    assert found.abandoned_at == T0 and found.arms == FAST.arms
    [seen] = found.messages
    assert (seen.id, seen.channel, seen.step_index, seen.cost) == (
        sent.id,
        "sms",
        0,
        Decimal("0.30"),
    )
    assert (seen.experiment_id, seen.arm, seen.discount) == ("flow.step1", "plain", True)
    assert (seen.clicks, seen.bot_clicks, seen.opens) == (1, 1, 1)
    assert found.order == PlacedOrder(T0 + HOUR, "DKK", Decimal("404.95"), Decimal("40.50"))


def test_an_order_that_earns_nothing_is_there_but_does_not_count(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    with store.transaction() as tx:
        tx.carts.change(cart.id, status=CartStatus.ABANDONED, abandoned_at=T0)
        tx.measure.assign(run.id, replace(FAST, held_out=True))
        tx.orders.add(order(cart, test=True))
    with store.reading() as tx:
        [found] = tx.measure.outcomes("acme", None)
    assert found.held_out and found.messages == ()
    assert found.order is not None and not found.order.counts
    assert found.order.revenue == Decimal("0")


def test_a_called_winner_is_kept_once_with_when_and_why(store: Store) -> None:
    first = Winner("flow.step1", "warm", T0, "warm is best with probability 99.0%")
    with store.transaction() as tx:
        assert tx.measure.winners() == {}
        assert tx.measure.call_winner(first) is True
        assert tx.measure.call_winner(replace(first, arm="plain", called_at=T0 + HOUR)) is False
    with store.reading() as tx:
        assert tx.measure.winners() == {"flow.step1": first}


def test_erasing_a_person_forgets_the_user_agents_of_their_opens(store: Store) -> None:
    cart, run = cart_with_due_run(store)
    email = message(cart, run, channel="email", status=MessageStatus.SENT, sent_at=T0)
    with store.transaction() as tx:
        tx.messages.add(email)
        tx.measure.add_open(Open(email.id, cart.id, T0 + MINUTE, "Mozilla/5.0 (Macintosh)"))
        counts = tx.privacy.erase(Subject(store_id="acme", emails=(cart.email or "",)), {})
    with store.reading() as tx:
        [kept] = tx.measure.opens_for_cart(cart.id)
    assert counts["opens"] == 1 and kept.user_agent is None and kept.at == T0 + MINUTE


def test_the_store_s_figures_count_clicks_apart_from_bot_clicks_and_people_s_opens(
    store: Store,
) -> None:
    cart, run = cart_with_due_run(store)
    sent = message(cart, run, channel="email", status=MessageStatus.SENT, sent_at=T0, link_code="e")
    with store.transaction() as tx:
        tx.messages.add(sent)
        tx.messages.add_link(Link("e", sent.id, cart.id, "https://shop", T0))
        for agent, reason in (("Mozilla/5.0", None), ("Slackbot", "Slack"), ("curl/8", "curl")):
            tx.messages.add_click(
                replace(
                    Click("e", sent.id, cart.id, T0 + HOUR), bot_reason=reason, user_agent=agent
                )
            )
            tx.measure.add_open(Open(sent.id, cart.id, T0 + HOUR, agent, reason))
    with store.reading() as tx:
        found = tx.reports.figures("acme", "DKK", None)
        later = tx.reports.figures("acme", "DKK", T0 + 2 * HOUR)
    assert (found.clicks, found.bot_clicks, found.opens) == (1, 2, 1)
    assert (later.clicks, later.bot_clicks, later.opens) == (0, 0, 0)
