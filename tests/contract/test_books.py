"""Webhook deliveries, promotional touches, discount code pools and poller cursors."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from cartback.domain.records import CodeImport, DeliveryStatus, NewDelivery, Touch
from cartback.store.base import Store
from tests.contract.records import HOUR, MINUTE, T0, new_cart


def _delivery(key: str | None = "wh-1", **changes: object) -> NewDelivery:
    values: dict[str, object] = {
        "platform": "shopify",
        "store_id": "acme",
        "topic": "checkouts/update",
        "delivery_key": key,
        "headers": {"X-Shopify-Topic": "checkouts/update"},
        "body": b'{"id": 1}',
        "received_at": T0,
        **changes,
    }
    return NewDelivery(**values)  # type: ignore[arg-type]


def test_a_delivery_is_stored_then_marked(store: Store) -> None:
    with store.transaction() as tx:
        delivery_id, duplicate = tx.deliveries.record(_delivery())
    assert not duplicate
    with store.reading() as tx:
        kept = tx.deliveries.get(delivery_id)
        assert tx.deliveries.get(delivery_id + 1000) is None
    assert kept is not None and kept.status == DeliveryStatus.RECEIVED and kept.attempts == 0
    assert kept.body == b'{"id": 1}' and dict(kept.headers) == {
        "X-Shopify-Topic": "checkouts/update"
    }
    assert (kept.platform, kept.store_id, kept.topic, kept.delivery_key) == (
        "shopify",
        "acme",
        "checkouts/update",
        "wh-1",
    )
    with store.transaction() as tx:
        tx.deliveries.mark(delivery_id, DeliveryStatus.FAILED, T0 + MINUTE, "bad json")
        tx.deliveries.mark(delivery_id, DeliveryStatus.PROCESSED, T0 + HOUR, None)
    with store.reading() as tx:
        done = tx.deliveries.get(delivery_id)
    assert done is not None and done.status == DeliveryStatus.PROCESSED
    assert done.attempts == 2 and done.error is None and done.processed_at == T0 + HOUR


def test_a_delivery_seen_again_is_a_duplicate_once_processed(store: Store) -> None:
    with store.transaction() as tx:
        first, _ = tx.deliveries.record(_delivery())
        again, duplicate = tx.deliveries.record(_delivery(body=b"other"))
    assert again == first and not duplicate  # stored, not yet processed: process it
    with store.transaction() as tx:
        tx.deliveries.mark(first, DeliveryStatus.PROCESSED, T0, None)
        third, duplicate = tx.deliveries.record(_delivery())
        other_store, other_duplicate = tx.deliveries.record(_delivery(store_id="b"))
        no_key_1, dup_1 = tx.deliveries.record(_delivery(None))
        no_key_2, dup_2 = tx.deliveries.record(_delivery(None))
    assert third == first and duplicate
    assert other_store != first and not other_duplicate
    assert no_key_1 != no_key_2 and not dup_1 and not dup_2


def test_listing_deliveries_newest_first(store: Store) -> None:
    with store.transaction() as tx:
        ids = [tx.deliveries.record(_delivery(f"k{n}"))[0] for n in range(4)]
        tx.deliveries.record(_delivery("k9", store_id="b"))
        tx.deliveries.mark(ids[1], DeliveryStatus.FAILED, T0, "boom")
        tx.deliveries.mark(ids[3], DeliveryStatus.FAILED, T0, "boom")
    with store.reading() as tx:
        failed = tx.deliveries.listing(status=DeliveryStatus.FAILED, store_id=None, limit=10)
        acme = tx.deliveries.listing(status=None, store_id="acme", limit=2)
        everything = tx.deliveries.listing(status=None, store_id=None, limit=100)
        next_page = tx.deliveries.listing(status=None, store_id="acme", limit=2, after=ids[2])
    assert [d.id for d in failed] == [ids[3], ids[1]] and failed[0].error == "boom"
    assert [d.id for d in acme] == [ids[3], ids[2]]
    assert [d.id for d in next_page] == [ids[1], ids[0]]
    assert len(everything) == 5


def test_processed_keys(store: Store) -> None:
    with store.transaction() as tx:
        done, _ = tx.deliveries.record(_delivery("a"))
        tx.deliveries.record(_delivery("b"))
        tx.deliveries.mark(done, DeliveryStatus.PROCESSED, T0, None)
        elsewhere, _ = tx.deliveries.record(_delivery("c", platform="magento"))
        tx.deliveries.mark(elsewhere, DeliveryStatus.PROCESSED, T0, None)
    with store.reading() as tx:
        assert tx.deliveries.processed_keys("shopify", "acme", ["a", "b", "c", "d"]) == {"a"}
        assert tx.deliveries.processed_keys("shopify", "acme", []) == set()


def test_a_batch_is_stored_whole_in_arrival_order(store: Store) -> None:
    """`record_many` keeps every field of every delivery, numbers them in the batch's order
    (keyless ones among them), gives a key repeated within the batch its first place's id, and
    a key stored before its stored id."""
    plus_two = timezone(timedelta(hours=2))
    with store.transaction() as tx:
        before, _ = tx.deliveries.record(_delivery("old"))
    batch = [
        _delivery("a", headers={"X-Shopify-Topic": "checkouts/create", "X-Other": "é"}),
        _delivery(None, body=b"\x00\xffraw", topic=None),
        _delivery("old"),
        _delivery("b", received_at=(T0 + MINUTE).astimezone(plus_two), sequence_key="cart-9"),
        _delivery("a", body=b"a again"),
        _delivery(None, platform="magento"),
    ]
    with store.transaction() as tx:
        stored = tx.deliveries.record_many(batch)
    ids = [delivery_id for delivery_id, _ in stored]
    assert ids[2] == before and ids[4] == ids[0]
    made = [ids[n] for n in (0, 1, 3, 5)]
    assert made == sorted(made) and len(set(made)) == 4 and before < made[0]
    with store.reading() as tx:
        kept = [tx.deliveries.get(delivery_id) for delivery_id in ids]
    for place in (0, 1, 3, 5):
        delivery, row = batch[place], kept[place]
        assert row is not None and row.status == DeliveryStatus.RECEIVED
        assert (row.platform, row.store_id, row.topic, row.delivery_key) == (
            delivery.platform,
            delivery.store_id,
            delivery.topic,
            delivery.delivery_key,
        )
        assert (row.body, dict(row.headers), row.sequence_key) == (
            delivery.body,
            dict(delivery.headers),
            delivery.sequence_key,
        )
        assert row.received_at == delivery.received_at and row.received_at.tzinfo is not None


def test_a_batch_with_a_naive_time_is_refused(store: Store) -> None:
    naive = T0.replace(tzinfo=None)
    with pytest.raises(Exception, match="naive"), store.transaction() as tx:
        tx.deliveries.record_many([_delivery("a"), _delivery("b", received_at=naive)])


def test_many_keys_are_looked_up_past_one_statements_worth(store: Store) -> None:
    """Over a hundred keys (more than one look-up statement takes): each one found, as
    processed or stored, and its id the one it was stored with."""
    keys = [f"many-{n}" for n in range(250)]
    with store.transaction() as tx:
        stored = tx.deliveries.record_many([_delivery(key) for key in keys])
        for delivery_id, _ in stored[::2]:
            tx.deliveries.mark(delivery_id, DeliveryStatus.PROCESSED, T0, None)
    with store.transaction() as tx:
        again = tx.deliveries.record_many([_delivery(key) for key in [*keys, "new"]])
        done = tx.deliveries.processed_keys("shopify", "acme", [*keys, "unknown"])
    assert again[:-1] == [(delivery_id, n % 2 == 0) for n, (delivery_id, _) in enumerate(stored)]
    assert again[-1][0] not in {delivery_id for delivery_id, _ in stored}
    assert done == set(keys[::2])


def test_touches_are_kept_once_and_the_latest_found(store: Store) -> None:
    phone = "+4520123456"
    plus_two = timezone(timedelta(hours=2))
    touches = [
        Touch(phone, "sms", T0, "klaviyo"),
        Touch(phone, "sms", T0.astimezone(plus_two), "klaviyo"),  # the same instant
        Touch(phone, "sms", T0 + HOUR, "klaviyo"),
        Touch(phone, "email", T0 + 2 * HOUR, "klaviyo"),
        Touch(phone, "sms", T0 + HOUR, "other-tool"),
    ]
    with store.transaction() as tx:
        assert tx.touches.add_many(touches, T0) == 4
        assert tx.touches.add_many(touches[:3], T0 + HOUR) == 0
        assert tx.touches.add_many([], T0) == 0
    with store.reading() as tx:
        assert tx.touches.last(phone, "sms", T0 - HOUR) == T0 + HOUR
        assert tx.touches.last(phone, None, T0 - HOUR) == T0 + 2 * HOUR
        assert tx.touches.last(phone, "sms", T0 + HOUR) == T0 + HOUR  # since is inclusive
        assert tx.touches.last(phone, "sms", T0 + 2 * HOUR) is None
        assert tx.touches.last("+4599999999", None, T0 - HOUR) is None


def test_a_code_pool_gives_each_cart_one_code(store: Store) -> None:
    with store.transaction() as tx:
        imported = tx.codes.import_codes("acme", ["A1", "A2", "A1", "A3"], T0, None)
        again = tx.codes.import_codes("acme", ["A3", "A4"], T0, None)
        tx.codes.import_codes("b", ["A1"], T0, None)
        first, second = new_cart(tx), new_cart(tx)
    assert imported == CodeImport(added=3, duplicates=1)
    assert again == CodeImport(added=1, duplicates=1)
    with store.transaction() as tx:
        assert tx.codes.remaining("acme", T0) == 4
        code = tx.codes.claim("acme", first.id, T0)
        assert code == "A1"
        assert tx.codes.claim("acme", first.id, T0 + HOUR) == "A1"  # a retry: the same code
        assert tx.codes.claim("acme", second.id, T0) == "A2"
        assert tx.codes.remaining("acme", T0) == 2
        assert tx.codes.remaining("b", T0) == 1


def test_an_empty_or_expired_pool_gives_nothing(store: Store) -> None:
    with store.transaction() as tx:
        tx.codes.import_codes("acme", ["OLD"], T0, T0 + HOUR)
        tx.codes.import_codes("acme", ["NEW"], T0, None)
        first, second, third = new_cart(tx), new_cart(tx), new_cart(tx)
    with store.transaction() as tx:
        assert tx.codes.remaining("acme", T0) == 2
        assert tx.codes.remaining("acme", T0 + HOUR) == 1  # expiry is exclusive
        assert tx.codes.claim("acme", first.id, T0 + 2 * HOUR) == "NEW"
        assert tx.codes.claim("acme", second.id, T0 + 2 * HOUR) is None
        assert tx.codes.claim("nowhere", third.id, T0) is None
        assert tx.codes.remaining("acme", T0) == 1


def test_a_held_code_that_expired_is_not_given_again(store: Store) -> None:
    with store.transaction() as tx:
        tx.codes.import_codes("acme", ["SHORT"], T0, T0 + HOUR)
        tx.codes.import_codes("acme", ["LONG"], T0 + MINUTE, None)
        cart = new_cart(tx)
        assert tx.codes.claim("acme", cart.id, T0) == "SHORT"
        assert tx.codes.claim("acme", cart.id, T0 + 2 * HOUR) == "LONG"


def test_a_code_claim_rolled_back_returns_the_code(store: Store) -> None:
    with store.transaction() as tx:
        tx.codes.import_codes("acme", ["ONLY"], T0, None)
        cart = new_cart(tx)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        assert tx.codes.claim("acme", cart.id, T0) == "ONLY"
        raise RuntimeError("the send failed")
    with store.transaction() as tx:
        assert tx.codes.remaining("acme", T0) == 1
        assert tx.codes.claim("acme", cart.id, T0) == "ONLY"


def test_cursors_keep_a_value_and_a_backoff(store: Store) -> None:
    name = "magento:acme:carts"
    with store.transaction() as tx:
        assert tx.cursors.get(name) is None
        assert tx.cursors.record_failure(name, T0, T0 + MINUTE) == 1
        fresh = tx.cursors.get(name)
        assert tx.cursors.record_failure(name, T0 + MINUTE, T0 + 4 * MINUTE) == 2
        tx.cursors.save(name, "2026-11-30 10:00:00", T0 + HOUR)
        saved = tx.cursors.get(name)
        tx.cursors.clear_failures(name, T0 + 2 * HOUR)
        cleared = tx.cursors.get(name)
        tx.cursors.clear_failures("unknown", T0)
        tx.cursors.save("other", "7", T0)
    with store.reading() as tx:
        other = tx.cursors.get("other")
        assert tx.cursors.get("unknown") is None
    assert fresh is not None and (fresh.value, fresh.failures, fresh.retry_at) == (
        "",
        1,
        T0 + MINUTE,
    )
    assert saved is not None and saved.value == "2026-11-30 10:00:00"
    assert (saved.failures, saved.retry_at) == (2, T0 + 4 * MINUTE)  # a save leaves the backoff
    assert cleared is not None and (cleared.failures, cleared.retry_at) == (0, None)
    assert cleared.value == saved.value and cleared.updated_at == T0 + 2 * HOUR
    assert other is not None and (other.value, other.failures, other.updated_at) == ("7", 0, T0)


def test_a_secret_is_kept_once_and_the_first_one_stays(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.secrets.keep("signing", "first", T0) == "first"
    with store.transaction() as tx:
        assert tx.secrets.keep("signing", "second", T0 + MINUTE) == "first"
        assert tx.secrets.keep("other", "its own", T0) == "its own"
