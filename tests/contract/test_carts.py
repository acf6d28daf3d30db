"""Carts: stored once per store and key, updated, matched to orders and to the same person."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from datetime import UTC, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from cartback.domain.records import CartStatus
from cartback.store.base import Store
from tests.contract.records import HOUR, MINUTE, T0, contents, new_cart


def test_a_new_cart_comes_back_as_it_went_in(store: Store) -> None:
    given = contents()
    with store.transaction() as tx:
        cart, created = tx.carts.upsert(given, T0)
    assert created
    with store.reading() as tx:
        found = tx.carts.get(cart.id)
    assert found == cart
    for name in ("store_id", "cart_key", "total", "items", "customer_tags", "discount_codes"):
        assert getattr(found, name) == getattr(given, name)
    assert found is not None
    assert found.status == CartStatus.OPEN and found.live
    assert found.update_count == 1
    assert found.created_at == found.updated_at == T0
    assert found.abandoned_at is found.purchased_at is found.deleted_at is None


def test_times_come_back_aware_utc_and_amounts_as_the_decimal_given(store: Store) -> None:
    copenhagen = timezone(timedelta(hours=1))
    at = T0.astimezone(copenhagen).replace(microsecond=123456)
    given = contents(
        total=Decimal("1234.5678"),
        customer_total_spent=Decimal("0.0001"),
        occurred_at=at,
        last_activity_at=at,
    )
    with store.transaction() as tx:
        cart, _ = tx.carts.upsert(given, at)
    with store.reading() as tx:
        found = tx.carts.get(cart.id)
    assert found is not None
    assert found.total == Decimal("1234.5678") and isinstance(found.total, Decimal)
    assert found.customer_total_spent == Decimal("0.0001")
    assert found.items[0].price == Decimal("99.50")
    for moment in (found.occurred_at, found.last_activity_at, found.created_at):
        assert moment == at
        assert moment.utcoffset() == timedelta(0)
    assert found.occurred_at.astimezone(UTC).microsecond == 123456


def test_a_naive_time_is_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive"), store.transaction() as tx:
        tx.carts.upsert(contents(), T0.replace(tzinfo=None))


def test_records_are_snapshots_that_cannot_be_changed(store: Store) -> None:
    with store.transaction() as tx:
        cart = new_cart(tx)
    with pytest.raises(FrozenInstanceError):
        cart.status = CartStatus.DELETED  # type: ignore[misc]
    with store.transaction() as tx:
        tx.carts.change(cart.id, status=CartStatus.ABANDONED, abandoned_at=T0)
    assert cart.status == CartStatus.OPEN  # the earlier snapshot did not move


def test_upsert_finds_the_cart_already_kept_for_the_same_store_and_key(store: Store) -> None:
    with store.transaction() as tx:
        first = new_cart(tx, cart_key="k1")
        again, created = tx.carts.upsert(contents(cart_key="k1", total=Decimal("1")), T0 + HOUR)
        other_store, other_created = tx.carts.upsert(contents(cart_key="k1", store_id="b"), T0)
    assert not created and again == first and again.total == Decimal("404.95")
    assert other_created and other_store.id != first.id
    with store.reading() as tx:
        assert tx.carts.find("acme", "k1") == first
        assert tx.carts.find("b", "k1") == other_store
        assert tx.carts.find("acme", "nope") is None
        assert tx.carts.get(other_store.id + 1000) is None


def test_ids_increase_as_carts_are_added(store: Store) -> None:
    with store.transaction() as tx:
        ids = [new_cart(tx).id for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_an_accepted_update_rewrites_the_contents_and_counts(store: Store) -> None:
    with store.transaction() as tx:
        cart = new_cart(tx, cart_key="k")
        later = contents(
            cart_key="k",
            total=Decimal("10.00"),
            email="bob@example.com",
            phone=None,
            items=(),
            occurred_at=T0 + MINUTE,
            last_activity_at=T0 + MINUTE,
        )
        tx.carts.update_contents(cart.id, later, T0 + HOUR)
    with store.reading() as tx:
        found = tx.carts.get(cart.id)
        assert tx.carts.find("acme", "k") == found
        # the indexes follow the new contents
        assert tx.carts.stores_knowing_phone("+4520123456") == []
    assert found is not None
    assert found.total == Decimal("10.00") and found.email == "bob@example.com"
    assert found.phone is None and found.items == ()
    assert found.update_count == 2
    assert found.updated_at == T0 + HOUR and found.created_at == T0
    assert found.occurred_at == T0 + MINUTE


def test_change_moves_the_cart_through_its_life(store: Store) -> None:
    with store.transaction() as tx:
        cart = new_cart(tx)
        tx.carts.change(cart.id, status=CartStatus.ABANDONED, abandoned_at=T0 + HOUR)
        abandoned = tx.carts.get_for_update(cart.id)
        tx.carts.change(cart.id, status=CartStatus.OPEN, abandoned_at=None)
        reopened = tx.carts.get(cart.id)
        tx.carts.change(
            cart.id,
            status=CartStatus.PURCHASED,
            purchased_at=T0 + 2 * HOUR,
            updated_at=T0 + 2 * HOUR,
        )
    with store.reading() as tx:
        bought = tx.carts.get(cart.id)
    assert abandoned is not None and abandoned.status == CartStatus.ABANDONED
    assert abandoned.abandoned_at == T0 + HOUR
    assert reopened is not None and reopened.status == CartStatus.OPEN
    assert reopened.abandoned_at is None
    assert bought is not None and bought.status == CartStatus.PURCHASED and not bought.live
    assert bought.purchased_at == bought.updated_at == T0 + 2 * HOUR
    assert bought.update_count == 1


def test_a_delete_finds_its_cart_by_key_else_the_newest_with_the_token(store: Store) -> None:
    with store.transaction() as tx:
        by_key = new_cart(tx, cart_key="k1", cart_token="t")
        newer = new_cart(tx, T0 + HOUR, cart_key="k2", cart_token="t")
        new_cart(tx, T0 + 2 * HOUR, cart_key="k3", cart_token="t", store_id="other")
    with store.reading() as tx:
        assert tx.carts.find_for_delete("acme", "k1", "t") == by_key
        assert tx.carts.find_for_delete("acme", None, "t") == newer
        assert tx.carts.find_for_delete("acme", "missing", "t") is None
        assert tx.carts.find_for_delete("acme", None, "unknown") is None


def test_an_order_closes_the_cart_of_its_checkout_token_first(store: Store) -> None:
    with store.transaction() as tx:
        mine = new_cart(tx, cart_key="chk", cart_token="t1")
        new_cart(tx, T0 + HOUR, cart_key="other", cart_token="t2")
        tx.carts.change(mine.id, status=CartStatus.PURCHASED)
    with store.reading() as tx:
        found = tx.carts.match_for_order(
            "acme",
            checkout_token="chk",
            cart_token="t2",
            customer_id=None,
            email=None,
            phone=None,
            since=T0,
        )
    assert found is not None and found.id == mine.id  # even when it is no longer live


def test_an_order_without_checkout_match_takes_the_newest_cart_of_its_token(store: Store) -> None:
    with store.transaction() as tx:
        new_cart(tx, cart_key="a", cart_token="tok")
        newest = new_cart(tx, T0 + HOUR, cart_key="b", cart_token="tok")
        new_cart(tx, T0 + 2 * HOUR, cart_key="c", cart_token="tok", store_id="other")
    with store.reading() as tx:
        found = tx.carts.match_for_order(
            "acme",
            checkout_token="unknown",
            cart_token="tok",
            customer_id=None,
            email=None,
            phone=None,
            since=T0,
        )
    assert found is not None and found.id == newest.id


@pytest.mark.parametrize("who", ["customer", "email", "phone"])
def test_an_order_otherwise_takes_the_same_persons_newest_live_cart(store: Store, who: str) -> None:
    person: dict[str, Any] = {
        "customer_external_id": "c9",
        "email": "zed@example.com",
        "phone": "+4520999999",
        "cart_token": None,
    }
    later, bought_at = T0 + HOUR, T0 + 2 * HOUR
    with store.transaction() as tx:
        old = new_cart(tx, **person)
        tx.carts.change(old.id, status=CartStatus.ABANDONED)
        live = new_cart(tx, **person, last_activity_at=later, occurred_at=later)
        bought = new_cart(tx, **person, last_activity_at=bought_at, occurred_at=bought_at)
        tx.carts.change(bought.id, status=CartStatus.PURCHASED)
    key = {"customer": "customer_id", "email": "email", "phone": "phone"}[who]
    value = {"customer": "c9", "email": "zed@example.com", "phone": "+4520999999"}[who]
    ask = {"customer_id": None, "email": None, "phone": None, key: value}
    with store.reading() as tx:
        found = tx.carts.match_for_order(
            "acme", checkout_token=None, cart_token=None, since=T0, **ask
        )
        too_late = tx.carts.match_for_order(
            "acme", checkout_token=None, cart_token=None, since=T0 + 90 * MINUTE, **ask
        )
        elsewhere = tx.carts.match_for_order(
            "other", checkout_token=None, cart_token=None, since=T0, **ask
        )
        nobody = tx.carts.match_for_order(
            "acme",
            checkout_token=None,
            cart_token=None,
            customer_id=None,
            email=None,
            phone=None,
            since=T0,
        )
    assert found is not None and found.id == live.id
    assert too_late is None and elsewhere is None and nobody is None


def test_a_newer_live_cart_of_the_same_person_is_seen(store: Store) -> None:
    later = T0 + HOUR
    with store.transaction() as tx:
        first = new_cart(tx, phone=None)
        only_phone = new_cart(tx, email=None, phone="+4520111111")
        second = new_cart(tx, phone=None, occurred_at=later, last_activity_at=later)
    with store.reading() as tx:
        assert tx.carts.newer_live_cart_exists(first)
        assert not tx.carts.newer_live_cart_exists(second)
        assert not tx.carts.newer_live_cart_exists(only_phone)
    with store.transaction() as tx:
        tx.carts.change(second.id, status=CartStatus.DELETED)
    with store.reading() as tx:
        assert not tx.carts.newer_live_cart_exists(first)


def test_abandonments_are_the_same_persons_other_abandoned_carts(store: Store) -> None:
    with store.transaction() as tx:
        me = new_cart(tx)
        a = new_cart(tx, phone=None)
        b = new_cart(tx, email=None)
        c = new_cart(tx, email="x@example.com", phone="+4520000001")
        d = new_cart(tx, store_id="other")
        for cart, hours in ((me, 1), (a, 3), (b, 2), (c, 4), (d, 5)):
            tx.carts.change(cart.id, status=CartStatus.ABANDONED, abandoned_at=T0 + hours * HOUR)
        lonely = new_cart(tx, email=None, phone=None)
    with store.reading() as tx:
        me_now = tx.carts.get(me.id)
        assert me_now is not None
        assert sorted(tx.carts.abandonments(me_now)) == [T0 + 2 * HOUR, T0 + 3 * HOUR]
        assert tx.carts.abandonments(lonely) == []


def test_the_stores_that_know_a_phone(store: Store) -> None:
    with store.transaction() as tx:
        new_cart(tx, store_id="b")
        new_cart(tx, store_id="a")
        new_cart(tx, store_id="a")
        new_cart(tx, store_id="c", phone="+4520000002")
    with store.reading() as tx:
        assert tx.carts.stores_knowing_phone("+4520123456") == ["a", "b"]
        assert tx.carts.stores_knowing_phone("+4599999999") == []


def test_a_page_of_carts_is_newest_updated_first(store: Store) -> None:
    with store.transaction() as tx:
        carts = [new_cart(tx, T0 + n * MINUTE) for n in range(5)]
        new_cart(tx, T0 + HOUR, store_id="other")
        tx.carts.change(carts[1].id, status=CartStatus.ABANDONED, updated_at=T0 + 2 * HOUR)
    with store.reading() as tx:
        everything = tx.carts.page(store_id=None, status=None, limit=10, offset=0)
        acme = tx.carts.page(store_id="acme", status=None, limit=2, offset=1)
        abandoned = tx.carts.page(store_id="acme", status="abandoned", limit=10, offset=0)
    assert len(everything) == 6 and everything[0].id == carts[1].id
    assert [c.id for c in acme] == [carts[4].id, carts[3].id]
    assert [c.id for c in abandoned] == [carts[1].id]


def test_equal_update_times_page_by_highest_id(store: Store) -> None:
    with store.transaction() as tx:
        ids = [new_cart(tx).id for _ in range(3)]
    with store.reading() as tx:
        page = tx.carts.page(store_id="acme", status=None, limit=3, offset=0)
    assert [c.id for c in page] == sorted(ids, reverse=True)


def test_pages_of_carts_follow_each_other_by_the_last_one_seen(store: Store) -> None:
    with store.transaction() as tx:
        ids = [new_cart(tx, T0 + (n // 2) * MINUTE).id for n in range(7)]  # pairs: equal times
        new_cart(tx, T0 + HOUR, store_id="other")
    newest_first = [ids[n] for n in (6, 5, 4, 3, 2, 1, 0)]
    walked: list[int] = []
    after: int | None = None
    with store.reading() as tx:
        for _ in range(10):  # more than enough pages: a list that never ends fails
            page = tx.carts.page(store_id="acme", status=None, limit=3, offset=0, after=after)
            if not page:
                break
            walked += [x.id for x in page]
            after = page[-1].id
        gone = tx.carts.page(store_id="acme", status=None, limit=3, offset=0, after=10_000)
    assert walked == newest_first
    assert gone == []


def test_a_cart_without_optional_fields(store: Store) -> None:
    bare = replace(
        contents(),
        cart_token=None,
        customer_external_id=None,
        email=None,
        phone=None,
        phone_raw="12",
        first_name=None,
        last_name=None,
        country=None,
        items=(),
        discount_codes=(),
        recovery_url=None,
        sms_consent=None,
        email_consent=False,
        customer_orders_count=None,
        customer_total_spent=None,
        customer_tags=(),
    )
    with store.transaction() as tx:
        cart, _ = tx.carts.upsert(bare, T0)
    with store.reading() as tx:
        found = tx.carts.get(cart.id)
    assert found is not None
    assert found.phone_raw == "12" and found.email_consent is False and found.sms_consent is None
    assert found.customer_total_spent is None and found.items == () and found.customer_tags == ()


def test_changing_a_cart_that_is_not_there_changes_nothing(store: Store) -> None:
    with store.transaction() as tx:
        cart = new_cart(tx)
        tx.carts.change(cart.id + 1000, status=CartStatus.DELETED)
        tx.carts.update_contents(cart.id + 1000, contents(), T0)
    with store.reading() as tx:
        assert tx.carts.get(cart.id) == cart
        assert tx.carts.get(cart.id + 1000) is None
