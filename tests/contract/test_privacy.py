"""Privacy requests in the store: finding a person everywhere, erasing them, the audit log."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from cartback.domain.privacy import ERASED, PrivacyEntry, Subject
from cartback.domain.records import Click, Link, NewDelivery, Reply, Suppression, Touch
from cartback.store.base import Store, Tx
from tests.contract.records import HOUR, T0, consent, decision, message, new_cart, order

ANN_PHONE, ANN_EMAIL = "+4520123456", "ann@example.com"
BOB_PHONE, BOB_EMAIL = "+4520999999", "bob@example.com"
ANN = Subject(store_id="acme", emails=(ANN_EMAIL,), phones=(ANN_PHONE,))


def _delivery(tx: Tx, body: dict[str, object], store_id: str = "acme") -> int:
    delivery_id, _duplicate = tx.deliveries.record(
        NewDelivery(
            platform="shopify",
            store_id=store_id,
            topic="checkouts/update",
            delivery_key=None,
            headers={},
            body=json.dumps(body).encode(),
            received_at=T0,
        )
    )
    return delivery_id


def _people(store: Store) -> tuple[int, int]:
    """Ann (a cart, an order, a message clicked, consent, a STOP, a touch, deliveries) and Bob."""
    with store.transaction() as tx:
        ann = new_cart(tx)
        bob = new_cart(
            tx, email=BOB_EMAIL, phone=BOB_PHONE, first_name="Bob", customer_external_id="c2"
        )
        tx.orders.add(order(ann))
        tx.orders.add(order(None, order_key="bob-order", email=None))
        sent = message(ann, link_code="ann-link", body="Hi Ann, your basket is saved")
        tx.messages.add(sent)
        tx.messages.add(message(bob, body="Hi Bob, your basket is saved"))
        tx.messages.add_link(
            Link("ann-link", sent.id, ann.id, "https://shop.example/r?e=ann@example.com", T0)
        )
        tx.messages.add_click(Click("ann-link", sent.id, ann.id, T0 + HOUR, "Mozilla/5.0"))
        tx.decisions.add(decision(ann, detail=f"The phone {ANN_PHONE} is not a mobile."))
        tx.consent.add(consent(ANN_PHONE))
        tx.consent.add(consent(ANN_EMAIL, channel="email"))
        tx.consent.add(consent(BOB_PHONE))
        tx.consent.add_reply(Reply("fake", "r1", ANN_PHONE, "STOP", T0 + HOUR), "stop", T0 + HOUR)
        tx.touches.add_many([Touch(ANN_EMAIL, "email", T0, "newsletter")], T0)
        _delivery(tx, {"email": ANN_EMAIL, "first_name": "Ann"})
        _delivery(tx, {"phone": BOB_PHONE, "first_name": "Bob"})
        _delivery(tx, {"email": ANN_EMAIL}, store_id="other")
    return ann.id, bob.id


def test_everything_about_a_person_is_found_in_their_store(store: Store) -> None:
    _people(store)
    with store.reading() as tx:
        assert [c.first_name for c in tx.privacy.carts_of(ANN)] == ["Ann"]
        assert [o.email for o in tx.privacy.orders_of(ANN)] == [ANN_EMAIL]
        assert [r.text for r in tx.privacy.replies_from(ANN)] == ["STOP"]
        assert [t.source for t in tx.privacy.touches_of(ANN)] == ["newsletter"]
        [mention] = tx.privacy.deliveries_mentioning(ANN)
        assert json.loads(mention.body) == {"email": ANN_EMAIL, "first_name": "Ann"}
        everywhere = Subject(store_id=None, emails=(ANN_EMAIL,))
        assert len(tx.privacy.deliveries_mentioning(everywhere)) == 2
        assert tx.privacy.carts_of(Subject(store_id="acme", customer_ids=("c2",)))[0].phone == (
            BOB_PHONE
        )
        [bobs] = tx.privacy.orders_of(Subject(store_id="acme", order_keys=("bob-order",)))
        assert bobs.order_key == "bob-order"


def test_erasing_a_person_leaves_nothing_of_them_and_everything_of_others(store: Store) -> None:
    ann_id, bob_id = _people(store)
    with store.transaction() as tx:
        counts = tx.privacy.erase(ANN, {ANN_PHONE: "erased:abc"})
    assert counts["carts"] == 1 and counts["consent_ledger"] == 2 and counts["deliveries"] == 1
    with store.reading() as tx:
        ann = tx.carts.get(ann_id)
        assert ann is not None
        assert (ann.email, ann.phone, ann.first_name, ann.last_name) == (None, None, None, None)
        assert ann.customer_external_id is None and ann.recovery_url is None
        assert ann.total == Decimal("404.95") and ann.status == "open"  # the figures stay
        [sent] = tx.messages.for_cart(ann_id)
        assert sent.recipient == "erased:abc" and sent.body == ERASED
        link = tx.messages.link("ann-link")
        assert link is not None and link.target_url == ERASED
        [click] = tx.messages.clicks_for_cart(ann_id)
        assert click.user_agent is None
        [note] = tx.decisions.for_cart(ann_id)
        assert note.detail == f"The phone {ERASED} is not a mobile."
        assert tx.consent.history(ANN_PHONE) == [] and tx.consent.history(ANN_EMAIL) == []
        assert not tx.consent.replied_stop(ANN_PHONE)
        assert tx.privacy.replies_from(ANN) == [] and tx.privacy.touches_of(ANN) == []
        assert tx.privacy.orders_of(Subject(store_id=None, emails=(ANN_EMAIL,))) == []
        bodies = [d.body for d in tx.deliveries.listing(status=None, store_id=None, limit=10)]
        assert b'{"erased": true}' in bodies
        assert sum(ANN_EMAIL.encode() in body for body in bodies) == 1  # the other store's
        bob = tx.carts.get(bob_id)
        assert bob is not None and bob.phone == BOB_PHONE and bob.first_name == "Bob"
        assert tx.messages.for_cart(bob_id)[0].body == "Hi Bob, your basket is saved"
        assert len(tx.consent.history(BOB_PHONE)) == 1


def test_a_store_is_erased_whole_and_other_stores_are_untouched(store: Store) -> None:
    _people(store)
    with store.transaction() as tx:
        counts = tx.privacy.erase_store("acme")
        tx.consent.suppress(Suppression("sms", "erased:abc", "stop-reply", "erasure", T0))
    assert counts["carts"] == 2 and counts["deliveries"] == 2
    with store.reading() as tx:
        assert tx.privacy.carts_of(Subject(store_id="acme", emails=(ANN_EMAIL, BOB_EMAIL))) == []
        assert tx.consent.history(BOB_PHONE) == []
        assert len(tx.privacy.deliveries_mentioning(Subject(None, emails=(ANN_EMAIL,)))) == 1


def test_the_audit_log_keeps_what_was_done_in_order(store: Store) -> None:
    first = PrivacyEntry(T0, "erase", "cli", None, None, {"carts": 2})
    second = PrivacyEntry(T0 + HOUR, "data_request", "webhook", "acme", "9999", {})
    with store.transaction() as tx:
        tx.privacy.log(second)
        tx.privacy.log(first)
    with store.reading() as tx:
        entries = tx.privacy.entries()
        assert [(e.action, dict(e.counts)) for e in entries] == [
            ("erase", {"carts": 2}),
            ("data_request", {}),
        ]
        assert [e.request_id for e in tx.privacy.entries("acme")] == ["9999"]
        assert all(e.id > 0 for e in entries)
        assert isinstance(entries[0].at, datetime)
