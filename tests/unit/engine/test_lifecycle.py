"""A cart's life through ingest and the worker: updates, abandonment, the send, orders, deletes.

The same behaviours as tests/integration/test_core_loop.py, on the in-memory store.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from cartback.domain.events import CartUpdated, Channel, Consent, Customer
from cartback.domain.records import CartStatus, Click, DeliveryStatus, RunStatus
from cartback.engine.ingest import Delivery, Outcome
from tests.integration.conftest import CONFIG, DOMAIN, SECRET, TOKEN
from tests.unit.engine.rig import ALICE_EMAIL, ALICE_PHONE, Rig, make_rig


@pytest.fixture
def rig() -> Rig:
    # the integration tests' Shopify store; the rig brings its carts as domain events
    return make_rig(CONFIG.format(db_url="{db_url}", token=TOKEN, domain=DOMAIN, secret=SECRET))


def click(rig: Rig, code: str) -> str:
    """What following the short link does: the click is kept, the shopper sent on."""
    with rig.store.transaction() as tx:
        link = tx.messages.link(code)
        assert link is not None
        tx.messages.add_click(Click(code, link.message_id, link.cart_id, rig.clock.now()))
    return link.target_url


def test_an_abandoned_cart_gets_one_sms_and_a_click_then_an_order_is_recovered(rig: Rig) -> None:
    rig.cart("acme", "c1", cart_token="tok")
    assert rig.tick() == 0
    assert rig.advance(timedelta(minutes=29)) == 0
    assert rig.sms.sent == []

    assert rig.advance(timedelta(minutes=1)) == 1
    [sms] = rig.sms.sent
    assert sms.to == ALICE_PHONE and sms.sender == "Acme"
    assert sms.text.startswith("Hi Alice, your basket at Acme is saved: https://cb.example/r/")
    code = sms.text.rsplit("/r/", 1)[1]

    rig.clock.advance(timedelta(hours=2))
    assert click(rig, code) == "https://acme.example/cart/c1?restore=1"
    rig.clock.advance(timedelta(minutes=10))
    rig.order("acme", "o1", cart_key="c1", total="404.95")

    story = rig.story("acme", "c1")
    assert story.cart.status == CartStatus.PURCHASED
    assert story.order is not None and story.order.recovered
    assert story.order.attribution == "click"
    assert story.run is not None and story.run.status == RunStatus.CANCELLED
    kinds = [entry.kind for entry in story.timeline]
    assert kinds.index("message") < kinds.index("click") < kinds.index("order")
    report = rig.report("acme")
    assert (report.carts_abandoned, report.messages_sent, report.sms_segments) == (1, 1, 1)
    assert report.spend == Decimal("0.30") and report.orders_recovered == 1
    assert report.recovered_revenue == Decimal("404.95")
    assert report.roas == Decimal("1349.83") and report.currency == "USD"  # the configured one


def test_each_update_restarts_the_abandonment_timer(rig: Rig) -> None:
    rig.cart("acme", "c1")
    rig.clock.advance(timedelta(minutes=20))
    rig.cart("acme", "c1")
    assert rig.advance(timedelta(minutes=20)) == 0  # 40 min after the first, 20 after the last
    assert rig.sms.sent == []
    assert rig.advance(timedelta(minutes=10)) == 1
    assert len(rig.sms.sent) == 1
    assert rig.found("acme", "c1").update_count == 2


def test_an_update_after_the_reminder_went_out_does_not_start_over(rig: Rig) -> None:
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    rig.cart("acme", "c1", total="250.00")
    rig.advance(timedelta(minutes=30))
    assert len(rig.sms.sent) == 1
    assert rig.run("acme", "c1").step_index == 2  # waiting 24h for the email step
    assert rig.found("acme", "c1").total == Decimal("250.00")


def test_an_order_before_abandonment_cancels_and_is_not_recovered(rig: Rig) -> None:
    rig.cart("acme", "c1")
    rig.clock.advance(timedelta(minutes=10))
    rig.order("acme", "o1", cart_key="c1")
    assert rig.advance(timedelta(hours=1)) == 0
    assert rig.sms.sent == []
    story = rig.story("acme", "c1")
    assert story.cart.status == CartStatus.PURCHASED
    assert story.run is not None and story.run.status == RunStatus.CANCELLED
    assert "purchased" in rig.reasons("acme", "c1")
    report = rig.report()
    assert report.orders_recovered == 0 and report.carts_abandoned == 0


@pytest.mark.parametrize(("hours", "recovered"), [(5, True), (25, False)])
def test_an_order_without_a_click_counts_within_the_send_window(
    rig: Rig, hours: int, recovered: bool
) -> None:
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    rig.clock.advance(timedelta(hours=hours))
    rig.order("acme", "o1", cart_key="c1")
    order = rig.story("acme", "c1").order
    assert order is not None and order.recovered is recovered
    assert order.attribution == ("send" if recovered else None)


def test_an_order_is_matched_by_email_when_tokens_are_missing(rig: Rig) -> None:
    rig.cart("acme", "c1", email="Astrid@Example.com")
    rig.advance(timedelta(minutes=30))
    rig.clock.advance(timedelta(hours=1))
    rig.order("acme", "o1", email="astrid@example.com")
    story = rig.story("acme", "c1")
    assert story.cart.status == CartStatus.PURCHASED
    assert story.order is not None and story.order.recovered


def test_an_order_for_a_cart_never_seen_is_stored(rig: Rig) -> None:
    result = rig.order("acme", "o1", email="nobody@example.com")
    assert result.outcome == Outcome.PROCESSED
    with rig.store.reading() as tx:
        order = tx.orders.find("acme", "o1")
        assert tx.carts.page(store_id=None, status=None, limit=10, offset=0) == []
    assert order is not None and order.cart_id is None and not order.recovered
    assert rig.report().orders_recovered == 0


def test_without_sms_consent_nothing_is_sent_and_the_reason_is_recorded(rig: Rig) -> None:
    rig.cart("acme", "c1", consent=Consent(sms=False))
    rig.advance(timedelta(minutes=30))
    assert rig.sms.sent == []
    assert "no_consent" in rig.reasons("acme", "c1")


def test_consent_withdrawn_later_is_honoured(rig: Rig) -> None:
    rig.cart("acme", "c1")
    rig.clock.advance(timedelta(minutes=5))
    rig.consent("acme", Channel.SMS, False, phone=ALICE_PHONE)
    rig.advance(timedelta(minutes=30))
    assert rig.sms.sent == []
    assert "no_consent" in rig.reasons("acme", "c1")
    with rig.store.reading() as tx:
        [given, withdrawn] = tx.consent.history(ALICE_PHONE)
    assert (given.source, given.granted) == ("checkout", True)
    assert (withdrawn.source, withdrawn.granted) == ("test:consent", False)


def test_no_phone_and_an_invalid_phone_are_decisions_not_sends(rig: Rig) -> None:
    rig.cart(
        "acme",
        "c1",
        phone=None,
        email=None,
        phone_raw="+45 2012 345",
        phone_source="billing_address.phone",
    )
    rig.cart("acme", "c2", phone=None, email=ALICE_EMAIL)
    rig.cart("acme", "c3", phone=None, email=None)
    rig.cart("acme", "c4", phone=None, email=ALICE_EMAIL, phone_raw="555-555-BILL")
    rig.advance(timedelta(minutes=30))
    assert rig.sms.sent == []
    invalid = rig.decision("acme", "c1", "invalid_phone")
    assert invalid.detail == (
        "The phone number +45 20***45 (from billing_address.phone) is not a valid number, "
        "so no SMS was sent."
    )
    assert "no_phone" in rig.reasons("acme", "c2")
    assert rig.reasons("acme", "c3") == ["no_contact"]
    assert rig.run("acme", "c3").status == RunStatus.DONE
    # A placeholder where a number should be is no number at all, not an invalid one.
    placeholder = rig.decision("acme", "c4", "no_phone")
    assert placeholder.detail == "The cart has no phone number for SMS."


def test_a_step_in_quiet_hours_moves_to_the_next_allowed_minute(rig: Rig) -> None:
    # 21:40 UTC is 22:40 in Copenhagen: quiet until 09:00 local, 08:00 UTC.
    rig.clock.set(rig.clock.now().replace(hour=21, minute=10))
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    assert rig.sms.sent == []
    deferral = rig.decision("acme", "c1", "quiet_hours")
    assert deferral.action == "defer"
    assert deferral.until is not None and deferral.until.isoformat() == "2026-12-01T08:00:00+00:00"
    rig.clock.set(rig.clock.now().replace(day=1, month=12, hour=7, minute=59))
    assert rig.tick() == 0
    assert rig.advance(timedelta(minutes=1)) == 1
    assert len(rig.sms.sent) == 1


def test_an_email_step_without_an_email_channel_is_skipped_and_the_flow_ends(rig: Rig) -> None:
    rig.cart("acme", "c1")
    rig.advance(timedelta(minutes=30))
    rig.advance(timedelta(hours=24))
    assert "channel_not_configured" in rig.reasons("acme", "c1")
    assert rig.run("acme", "c1").status == RunStatus.DONE
    assert len(rig.sms.sent) == 1 and rig.email.sent == []


def test_a_deleted_cart_cancels_its_pending_steps(rig: Rig) -> None:
    rig.cart("acme", "c1", cart_token="tok")
    rig.clock.advance(timedelta(minutes=5))
    rig.delete("acme", None, token="tok")
    rig.advance(timedelta(minutes=30))
    story = rig.story("acme", "c1")
    assert story.cart.status == CartStatus.DELETED
    assert story.run is not None and story.run.status == RunStatus.CANCELLED
    assert rig.sms.sent == [] and "deleted" in rig.reasons("acme", "c1")


def test_an_update_older_than_what_we_have_is_ignored(rig: Rig) -> None:
    rig.cart("acme", "c1", total="500.00")
    rig.cart("acme", "c1", total="100.00", at=rig.clock.now() - timedelta(minutes=5))
    cart = rig.found("acme", "c1")
    assert cart.total == Decimal("500.00") and cart.update_count == 1


def test_the_same_delivery_twice_has_one_effect(rig: Rig) -> None:
    first = rig.cart("acme", "c1")
    delivery = Delivery("generic", "acme", "test", "same-id", {}, b"{}")
    again = rig.runtime.ingest.record(delivery)
    assert first.outcome == Outcome.PROCESSED
    assert rig.runtime.ingest.record(delivery).delivery_id == again.delivery_id
    rig.runtime.ingest.apply(again.delivery_id, lambda _b, _t: [])
    assert rig.runtime.ingest.record(delivery).duplicate
    assert rig.found("acme", "c1").update_count == 1


def test_a_payload_that_cannot_be_read_fails_with_its_problem_and_is_kept(rig: Rig) -> None:
    def unreadable(_body: bytes, _at: object) -> list[object]:
        raise ValueError("updated_at: not a time")

    delivery = Delivery("generic", "acme", "test", "bad-1", {}, b'{"updated_at": "nope"}')
    result = rig.runtime.ingest.receive(delivery, unreadable)  # type: ignore[arg-type]
    assert result.outcome == Outcome.FAILED and "updated_at" in (result.error or "")
    with rig.store.reading() as tx:
        [failed] = tx.deliveries.listing(status=DeliveryStatus.FAILED, store_id=None, limit=10)
    assert failed.delivery_key == "bad-1" and "updated_at" in (failed.error or "")
    assert failed.body == b'{"updated_at": "nope"}'


def test_a_failure_while_applying_leaves_nothing_half_written(rig: Rig) -> None:
    good = _cart_event(rig, "c1", rig.clock.now())
    broken = _cart_event(rig, "c2", rig.clock.now().replace(tzinfo=None))  # no time zone
    delivery = Delivery("generic", "acme", "test", "half", {}, b"{}")
    with pytest.raises(TypeError):
        rig.runtime.ingest.receive(delivery, lambda _body, _at: [good, broken])
    with rig.store.reading() as tx:
        assert tx.carts.find("acme", "c1") is None  # the first event's cart is undone too
        [failed] = tx.deliveries.listing(status=DeliveryStatus.FAILED, store_id=None, limit=1)
    assert failed.delivery_key == "half" and "TypeError" in (failed.error or "")


def _cart_event(rig: Rig, key: str, at: datetime) -> CartUpdated:
    customer = Customer(phone=ALICE_PHONE)
    return CartUpdated("acme", key, at, "DKK", Decimal("10"), customer, Consent(sms=True))
