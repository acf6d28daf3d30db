"""The consent ledger (latest entry wins), suppressions and replies."""

from __future__ import annotations

from dataclasses import replace

from cartback.domain.records import STOP_REPLY, Reply, Suppression
from cartback.store.base import Store
from tests.contract.records import HOUR, MINUTE, T0, consent

PHONE = "+4520123456"


def test_the_latest_entry_by_when_it_happened_wins(store: Store) -> None:
    with store.transaction() as tx:
        tx.consent.add(consent(granted=True, occurred_at=T0 + HOUR, source="form"))
        tx.consent.add(consent(granted=False, occurred_at=T0, source="import"))  # older, later
        tx.consent.add(consent(granted=False, occurred_at=T0 + 2 * HOUR, store_id="b"))
        tx.consent.add(consent(granted=False, occurred_at=T0 + 2 * HOUR, channel="email"))
    with store.reading() as tx:
        latest = tx.consent.latest("acme", "sms", PHONE)
        assert tx.consent.latest("acme", "sms", "+4599999999") is None
        assert tx.consent.latest("c", "sms", PHONE) is None
    assert latest is not None and latest.granted and latest.source == "form"
    assert latest.id > 0 and latest.occurred_at == T0 + HOUR


def test_at_the_same_moment_the_entry_recorded_last_wins(store: Store) -> None:
    with store.transaction() as tx:
        tx.consent.add(consent(granted=True, source="first"))
        tx.consent.add(consent(granted=False, source="second"))
    with store.reading() as tx:
        latest = tx.consent.latest("acme", "sms", PHONE)
    assert latest is not None and latest.source == "second" and not latest.granted


def test_an_entry_keeps_every_field(store: Store) -> None:
    given = consent(
        customer_external_id="cust-9",
        detail="buyer_accepts_sms_marketing=true on checkout c1",
        recorded_at=T0 + MINUTE,
    )
    with store.transaction() as tx:
        tx.consent.add(given)
    with store.reading() as tx:
        [kept] = tx.consent.history(PHONE)
    assert kept.id > 0
    assert kept == replace(given, id=kept.id)


def test_add_once_skips_the_same_answer_from_the_same_source_at_the_same_time(
    store: Store,
) -> None:
    with store.transaction() as tx:
        assert tx.consent.add_once(consent(source="file"))
        assert not tx.consent.add_once(consent(source="file", detail="again"))
        assert tx.consent.add_once(consent(source="file", granted=False))
        assert tx.consent.add_once(consent(source="file", occurred_at=T0 + MINUTE))
        assert tx.consent.add_once(consent(source="other"))
        assert tx.consent.add_once(consent(source="file", store_id="b"))
    with store.reading() as tx:
        assert len(tx.consent.history(PHONE)) == 5


def test_history_is_oldest_first_in_every_store_or_one(store: Store) -> None:
    with store.transaction() as tx:
        tx.consent.add(consent(occurred_at=T0 + HOUR, source="late"))
        tx.consent.add(consent(occurred_at=T0, source="early", store_id="b"))
        tx.consent.add(consent(occurred_at=T0 + HOUR, source="late-too"))
        tx.consent.add(consent(address="ann@example.com", channel="email"))
    with store.reading() as tx:
        everywhere = [e.source for e in tx.consent.history(PHONE)]
        acme = [e.source for e in tx.consent.history(PHONE, "acme")]
        assert tx.consent.history("+4599999999") == []
    assert everywhere == ["early", "late", "late-too"]
    assert acme == ["late", "late-too"]


def test_suppression_is_per_channel_and_idempotent(store: Store) -> None:
    with store.transaction() as tx:
        tx.consent.suppress(Suppression("sms", PHONE, "gateway:21610", "twilio", T0))
        tx.consent.suppress(Suppression("sms", PHONE, STOP_REPLY, "inmobile", T0 + HOUR))
        tx.consent.suppress(Suppression("email", "ann@example.com", "unsubscribe", "link", T0))
    with store.reading() as tx:
        assert tx.consent.is_suppressed("sms", PHONE)
        assert not tx.consent.is_suppressed("email", PHONE)
        assert not tx.consent.replied_stop(PHONE)  # the first reason stays
        assert tx.consent.suppressions(PHONE) == [
            Suppression("sms", PHONE, "gateway:21610", "twilio", T0)
        ]
        assert tx.consent.suppressions("nobody@example.com") == []


def test_blocked_asks_about_several_addresses_at_once(store: Store) -> None:
    with store.transaction() as tx:
        tx.consent.suppress(Suppression("sms", PHONE, "gateway:21610", "twilio", T0))
        tx.consent.suppress(Suppression("sms", "+4530000000", STOP_REPLY, "inmobile", T0))
        tx.consent.suppress(Suppression("email", "ann@example.com", "unsubscribe", "link", T0))
    with store.reading() as tx:
        blocked = tx.consent.blocked
        assert blocked("sms", ["+4599999999", PHONE], [])
        assert not blocked("email", [PHONE], [PHONE])  # suppressed on sms, and not by a STOP
        assert blocked("email", ["bo@example.com"], ["+4530000000"])  # a STOP ends everything
        assert blocked("email", ["ann@example.com"], [])
        assert not blocked("sms", ["ann@example.com", "+4599999999"], ["+4599999999"])
        assert not blocked("sms", [], [])


def test_a_stop_reply_and_lifting_it(store: Store) -> None:
    with store.transaction() as tx:
        tx.consent.suppress(Suppression("sms", PHONE, STOP_REPLY, "inmobile", T0))
    with store.reading() as tx:
        assert tx.consent.replied_stop(PHONE) and tx.consent.is_suppressed("sms", PHONE)
    with store.transaction() as tx:
        tx.consent.unsuppress("sms", PHONE)
        tx.consent.unsuppress("sms", "+4599999999")  # nothing to lift
    with store.reading() as tx:
        assert not tx.consent.replied_stop(PHONE) and not tx.consent.is_suppressed("sms", PHONE)
    with store.transaction() as tx:
        tx.consent.suppress(Suppression("sms", PHONE, "gateway:opted-out", "twilio", T0 + HOUR))
    with store.reading() as tx:
        [again] = tx.consent.suppressions(PHONE)
    assert again.reason == "gateway:opted-out" and again.created_at == T0 + HOUR


def test_a_reply_is_kept_once_per_gateway_id(store: Store) -> None:
    reply = Reply("inmobile", "in-1", PHONE, "STOP", T0, recipient="1234")
    with store.transaction() as tx:
        assert tx.consent.add_reply(reply, "stop", T0)
        assert not tx.consent.add_reply(reply, "stop", T0 + MINUTE)
        assert tx.consent.add_reply(Reply("twilio", "in-1", PHONE, "STOP", T0), "stop", T0)
        assert tx.consent.add_reply(Reply("inmobile", "in-2", PHONE, "hej", T0), "none", T0)
