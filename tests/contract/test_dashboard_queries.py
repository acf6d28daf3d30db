"""What the dashboard asks beyond the report: cart search, a contact's carts, clicks per
message, and the activity behind its funnel and daily chart."""

from __future__ import annotations

from decimal import Decimal

from cartback.domain.records import CartSearch, CartStatus, Click, Link, MessageStatus
from cartback.store.base import Store
from tests.contract.records import HOUR, MINUTE, T0, decision, message, new_cart, order


def test_cart_search_by_text_status_store_and_time(store: Store) -> None:
    with store.transaction() as tx:
        ann = new_cart(tx, T0, email="ann@example.com", first_name="Ann", last_name="Berg")
        bob = new_cart(
            tx,
            T0 + MINUTE,
            email="bob@example.com",
            phone="+4520000002",
            first_name="Bob",
            last_name="50%_off",
        )
        other = new_cart(tx, T0 + 2 * MINUTE, store_id="other", email="ann@example.com")
        tx.carts.change(bob.id, status=CartStatus.ABANDONED, updated_at=T0 + HOUR)

    def ids(query: CartSearch, limit: int = 10, offset: int = 0) -> list[int]:
        with store.reading() as tx:
            return [c.id for c in tx.carts.search(query, limit=limit, offset=offset)]

    both = ("acme", "other")
    assert ids(CartSearch(both)) == [bob.id, other.id, ann.id]
    assert ids(CartSearch(("acme",), text="ANN")) == [ann.id]
    assert ids(CartSearch(both, text="ann@")) == [other.id, ann.id]
    assert ids(CartSearch(("acme",), text=ann.cart_key)) == [ann.id]
    assert ids(CartSearch(("acme",), text="2000000")) == [bob.id]
    assert ids(CartSearch(("acme",), text="50%_")) == [bob.id]  # LIKE characters are literal
    assert ids(CartSearch(("acme",), text="%")) == [bob.id]
    assert ids(CartSearch(("acme",), status="abandoned")) == [bob.id]
    assert ids(CartSearch(both, since=T0 + MINUTE)) == [bob.id, other.id]
    assert ids(CartSearch(both, until=T0 + MINUTE)) == [ann.id]
    assert ids(CartSearch(both), limit=1, offset=1) == [other.id]
    assert ids(CartSearch(())) == []


def test_a_contacts_carts_in_every_store(store: Store) -> None:
    with store.transaction() as tx:
        first = new_cart(tx, T0, email="ann@example.com", phone="+4520123456")
        second = new_cart(tx, T0 + HOUR, store_id="other", email="ann@example.com", phone=None)
        new_cart(tx, T0, email="bob@example.com", phone="+4520000002")
    with store.reading() as tx:
        by_email = [c.id for c in tx.carts.for_address("ann@example.com", 10)]
        by_phone = [c.id for c in tx.carts.for_address("+4520123456", 10)]
        limited = tx.carts.for_address("ann@example.com", 1)
    assert by_email == [second.id, first.id]
    assert by_phone == [first.id]
    assert [c.id for c in limited] == [second.id]


def test_clicks_counted_per_message(store: Store) -> None:
    with store.transaction() as tx:
        cart = new_cart(tx)
        one, two, three = (message(cart, status=MessageStatus.SENT) for _ in range(3))
        for each, code in ((one, "code-one"), (two, "code-two"), (three, "code-three")):
            tx.messages.add(each)
            tx.messages.add_link(Link(code, each.id, cart.id, "https://shop.example/r", T0))
        for at in (T0, T0 + MINUTE):
            tx.messages.add_click(Click("code-one", one.id, cart.id, at))
        tx.messages.add_click(Click("code-two", two.id, cart.id, T0))
    with store.reading() as tx:
        assert tx.messages.click_counts([one.id, two.id, three.id]) == {one.id: 2, two.id: 1}
        assert tx.messages.click_counts([]) == {}


def test_activity_counts_carts_messaged_clicked_and_the_money_by_time(store: Store) -> None:
    with store.transaction() as tx:
        early = new_cart(tx, T0 - HOUR)
        a = new_cart(tx, T0 + HOUR)
        b = new_cart(tx, T0 + HOUR)
        elsewhere = new_cart(tx, T0 + HOUR, store_id="other")
        sent = message(a, status=MessageStatus.SENT, cost=Decimal("0.30"), created_at=T0 + HOUR)
        failed = message(b, status=MessageStatus.FAILED, created_at=T0 + HOUR)
        old = message(early, status=MessageStatus.DELIVERED, created_at=T0 - HOUR)
        theirs = message(elsewhere, status=MessageStatus.SENT, created_at=T0 + HOUR)
        for each in (sent, failed, old, theirs):
            tx.messages.add(each)
        tx.messages.add_link(Link("code-a", sent.id, a.id, "https://shop.example/r", T0))
        tx.messages.add_click(Click("code-a", sent.id, a.id, T0 + 2 * HOUR))
        tx.messages.add_click(Click("code-a", sent.id, a.id, T0 + 3 * HOUR))
        tx.orders.add(order(a, total=Decimal("404.95"), recovered=True, placed_at=T0 + 4 * HOUR))
        tx.orders.add(order(b, total=Decimal("10.00"), recovered=False))
        checks_passed = {"action": "send", "reason": "ok", "at": T0 + HOUR}
        for cart in (a, a, b, elsewhere):  # twice for a: one cart, two steps
            tx.decisions.add(decision(cart, **checks_passed))
        tx.decisions.add(decision(early, action="send", reason="ok", at=T0 - HOUR))
        tx.decisions.add(decision(b, at=T0 + HOUR))  # a skip: not a pass
        held = new_cart(tx, T0 + HOUR)  # held out: let through, then given no message
        tx.decisions.add(decision(held, action="holdout", reason="holdout", at=T0 + HOUR))
    with store.reading() as tx:
        now = tx.reports.activity(["acme"], T0)
        ever = tx.reports.activity(["acme", "other"], None)
        none = tx.reports.activity([], None)
    assert (now.carts, now.eligible_carts, now.messaged_carts, now.clicked_carts) == (3, 3, 1, 1)
    assert now.revenue == ((T0 + 4 * HOUR, Decimal("404.95")),)
    assert [cost for _, cost in now.spend] == [Decimal("0.30")]
    assert [at for at, _ in now.spend] == [T0 + HOUR]
    assert (ever.carts, ever.eligible_carts) == (5, 5)
    assert (ever.messaged_carts, ever.clicked_carts) == (3, 1)
    assert len(ever.spend) == 3
    assert (none.carts, none.eligible_carts, none.messaged_carts, none.revenue) == (0, 0, 0, ())
