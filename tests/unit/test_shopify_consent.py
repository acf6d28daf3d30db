"""Consent as Shopify records it, on every Shopify payload shape in tests/fixtures/shopify."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cartback.domain.events import CartUpdated, Channel, ConsentChanged, Event
from cartback.integrations.shopify import parse
from cartback.integrations.shopify_consent import LedgerEntry, ledger_entry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
RECEIVED_AT = datetime(2026, 4, 2, 8, 30, tzinfo=UTC)
CHECKOUT_AT = datetime(2022, 1, 1, 0, 0, tzinfo=UTC)  # the fixtures' updated_at
RECORD_AT = datetime(2021, 8, 3, 19, 31, 6, tzinfo=UTC)  # the customer record's consent date
LATER = "2023-05-01T10:00:00Z"
SMS_TOPIC = "customers_marketing_consent/update"
EMAIL_TOPIC = "customers_email_marketing_consent/update"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def events_of(topic: str, payload: dict[str, Any] | bytes) -> list[Event]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse(topic, body, store_id="demo", default_country="DK", received_at=RECEIVED_AT)


def checkout(payload: dict[str, Any]) -> tuple[list[ConsentChanged], CartUpdated]:
    events = events_of("checkouts/update", payload)
    *consents, cart = events
    assert isinstance(cart, CartUpdated)
    return [c for c in consents if isinstance(c, ConsentChanged)], cart


def older_checkout(**customer_changes: Any) -> dict[str, Any]:
    """The older checkout whose consent lives on the customer, with the customer record changed."""
    payload = fixture("checkouts_update_consent_on_customer.json")
    payload["customer"].update(customer_changes)
    return payload


def latest_granted(events: list[Event], cart_box_ticked: bool = False) -> bool | None:
    """What the consent ledger says after these events, by its rule: the latest `occurred_at`
    wins, and on a tie the entry recorded last (the engine records a ticked box when it applies
    the cart, after the events before it)."""
    entries: list[tuple[datetime, int, bool]] = []
    for order, event in enumerate(events):
        if isinstance(event, ConsentChanged) and event.channel is Channel.SMS:
            entries.append((event.occurred_at, order, event.granted))
        if isinstance(event, CartUpdated) and cart_box_ticked and event.consent.sms:
            entries.append((event.occurred_at, order, True))
    return max(entries)[2] if entries else None


# --- the decision table -----------------------------------------------------------------------

DATED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "updated_at", "expected"),
    [
        ("subscribed", DATED, LedgerEntry(True, DATED)),
        ("SUBSCRIBED", None, LedgerEntry(True, RECEIVED_AT)),  # Admin API spelling
        ("unsubscribed", DATED, LedgerEntry(False, DATED)),
        ("unsubscribed", None, LedgerEntry(False, RECEIVED_AT)),
        ("redacted", None, LedgerEntry(False, RECEIVED_AT)),
        ("INVALID", DATED, LedgerEntry(False, DATED)),
        ("not_subscribed", None, None),
        ("NOT_SUBSCRIBED", DATED, LedgerEntry(False, DATED)),
        ("pending", None, None),
        ("pending", DATED, LedgerEntry(False, DATED)),
        ("confirmed_by_carrier", None, LedgerEntry(False, RECEIVED_AT)),  # unknown: withdraws
    ],
)
def test_each_state_becomes_at_most_one_ledger_entry(
    state: str, updated_at: datetime | None, expected: LedgerEntry | None
) -> None:
    assert ledger_entry(state, updated_at, RECEIVED_AT) == expected


# --- checkouts --------------------------------------------------------------------------------


def test_a_2026_04_checkout_has_no_customer_consent_and_an_unticked_box_says_nothing() -> None:
    consents, cart = checkout(fixture("checkouts_create.json"))

    assert consents == []
    assert (cart.consent.sms, cart.consent.email) == (False, False)
    assert latest_granted([cart], cart_box_ticked=True) is None


def test_a_ticked_box_is_a_grant_from_the_checkout() -> None:
    consents, cart = checkout(fixture("checkouts_update_sms_opt_in.json"))

    assert consents == []
    assert (cart.consent.sms, cart.consent.email) == (True, True)
    assert cart.customer.phone == "+4520123456"


def test_an_older_checkout_records_the_customers_own_consent_at_its_date() -> None:
    consents, cart = checkout(fixture("checkouts_update_consent_on_customer.json"))

    sms, email = consents
    assert (sms.channel, sms.granted, sms.phone) == (Channel.SMS, True, "+16135551111")
    assert (email.channel, email.granted, email.email) == (Channel.EMAIL, True, "john@example.com")
    assert sms.occurred_at == email.occurred_at == RECORD_AT
    assert sms.customer_external_id == cart.customer.external_id == "603851970716743400"
    assert sms.source == "shopify:checkouts/update"
    assert sms.detail == (
        "sms_marketing_consent.state=subscribed"
        " (opt_in_level=single_opt_in, consent_collected_from=OTHER)"
    )


def test_an_unticked_box_and_a_subscribed_customer_is_consent() -> None:
    payload = older_checkout()
    payload.update(buyer_accepts_sms_marketing=False, buyer_accepts_marketing=False)

    events = events_of("checkouts/update", payload)

    sms = next(e for e in events if isinstance(e, ConsentChanged) and e.channel is Channel.SMS)
    assert (sms.granted, sms.phone, sms.occurred_at) == (True, "+16135551111", RECORD_AT)
    assert latest_granted(events, cart_box_ticked=True) is True


def test_a_ticked_box_wins_over_an_older_withdrawal_on_the_record() -> None:
    payload = older_checkout(sms_marketing_consent={"state": "unsubscribed"})  # undated
    payload.update(buyer_accepts_sms_marketing=True)

    events = events_of("checkouts/update", payload)

    withdrawal = events[0]
    assert isinstance(withdrawal, ConsentChanged)
    assert (withdrawal.granted, withdrawal.occurred_at) == (False, CHECKOUT_AT)  # payload time
    assert latest_granted(events, cart_box_ticked=True) is True


def test_an_undated_not_subscribed_says_nothing() -> None:
    payload = older_checkout(
        sms_marketing_consent={"state": "not_subscribed", "consent_updated_at": None},
        email_marketing_consent={"state": "pending", "opt_in_level": "confirmed_opt_in"},
    )

    consents, _ = checkout(payload)

    assert consents == []


def test_a_dated_not_subscribed_after_a_grant_leaves_no_consent() -> None:
    granted = events_of("checkouts/update", older_checkout())
    later = events_of(
        "checkouts/update",
        older_checkout(
            sms_marketing_consent={"state": "not_subscribed", "consent_updated_at": LATER}
        ),
    )

    assert latest_granted(granted + later) is False


def test_a_redacted_record_withdraws() -> None:
    consents, _ = checkout(older_checkout(email_marketing_consent={"state": "redacted"}))

    email = next(c for c in consents if c.channel is Channel.EMAIL)
    assert (email.granted, email.occurred_at) == (False, CHECKOUT_AT)


@pytest.mark.parametrize(("accepts", "granted"), [(True, [True]), (False, [])])
def test_legacy_accepts_marketing_true_grants_and_false_says_nothing(
    accepts: bool, granted: list[bool]
) -> None:
    payload = older_checkout(accepts_marketing=accepts)
    del payload["customer"]["email_marketing_consent"]

    consents, _ = checkout(payload)

    assert [c.granted for c in consents if c.channel is Channel.EMAIL] == granted


def test_the_record_belongs_to_the_customers_own_address_not_the_checkouts() -> None:
    payload = older_checkout()
    payload.update(sms_marketing_phone="+4520123456", email="buyer@example.com")

    consents, cart = checkout(payload)

    assert (cart.customer.phone, cart.customer.email) == ("+4520123456", "buyer@example.com")
    assert {c.phone or c.email for c in consents} == {"+16135551111", "john@example.com"}


# --- the consent webhooks ---------------------------------------------------------------------


def test_the_sms_consent_webhook_grants_at_its_date() -> None:
    (event,) = events_of(SMS_TOPIC, fixture("customers_marketing_consent_update.json"))

    assert isinstance(event, ConsentChanged)
    assert (event.granted, event.phone) == (True, "+4520123456")
    assert event.occurred_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_the_email_consent_webhook_withdraws_at_its_date() -> None:
    (event,) = events_of(EMAIL_TOPIC, fixture("customers_email_marketing_consent_update.json"))

    assert isinstance(event, ConsentChanged)
    assert (event.granted, event.email) == (False, "bob@biller.com")


def test_shopifys_sample_consent_webhook_never_subscribed_gives_no_event() -> None:
    payload = fixture("customers_email_marketing_consent_update.json")
    payload["email_marketing_consent"] = {
        "state": "not_subscribed",
        "opt_in_level": None,
        "consent_updated_at": None,
    }

    assert events_of(EMAIL_TOPIC, payload) == []


def test_a_pending_double_opt_in_gives_no_grant() -> None:
    payload = fixture("customers_marketing_consent_update.json")
    payload["sms_marketing_consent"].update(state="pending", opt_in_level="confirmed_opt_in")

    (event,) = events_of(SMS_TOPIC, payload)  # dated: "no consent" from then on

    assert isinstance(event, ConsentChanged)
    assert event.granted is False
    assert "state=pending" in (event.detail or "")
