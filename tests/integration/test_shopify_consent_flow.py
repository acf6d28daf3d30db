"""Consent as Shopify records it, end to end through the webhook: who gets the recovery SMS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.integration.conftest import PHONE, Shop


def _customer(state: str, updated_at: str | None) -> dict[str, Any]:
    """The nested customer of a checkout older than 2025-01, with SMS consent on it."""
    return {
        "id": 7001,
        "first_name": "John",
        "phone": PHONE,
        "sms_marketing_consent": {
            "state": state,
            "opt_in_level": "single_opt_in",
            "consent_updated_at": updated_at,
        },
    }


def _unticked(shop: Shop, customer: dict[str, Any]) -> None:
    shop.checkout(buyer_accepts_sms_marketing=False, sms_marketing_phone=None, customer=customer)


def _reasons(cart: dict[str, Any]) -> list[str]:
    return [e["reason"] for e in cart["timeline"] if e["kind"] == "decision"]


def test_an_unticked_box_and_a_subscribed_customer_gets_the_sms(shop: Shop) -> None:
    _unticked(shop, _customer("subscribed", "2026-01-10T09:00:00+01:00"))

    shop.advance(timedelta(minutes=30))

    [sms] = shop.sms.sent
    assert sms.to == PHONE


def test_a_later_unsubscribe_on_shopify_stops_it(shop: Shop) -> None:
    _unticked(shop, _customer("subscribed", "2026-01-10T09:00:00+01:00"))
    withdrawal = {
        "id": 7001,
        "phone": PHONE,
        "sms_marketing_consent": {
            "state": "unsubscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": shop.clock.now().isoformat(),
        },
    }
    assert shop.post("customers_marketing_consent/update", withdrawal).status_code == 200

    shop.advance(timedelta(minutes=30))

    assert shop.sms.sent == []
    assert "no_consent" in _reasons(shop.cart())


def test_a_customer_who_never_subscribed_does_not_lose_consent_given_elsewhere(
    shop: Shop,
) -> None:
    shop.checkout()  # the box ticked on an earlier checkout: a grant for PHONE
    shop.clock.advance(timedelta(minutes=5))
    _unticked(shop, _customer("not_subscribed", None))

    shop.advance(timedelta(minutes=30))

    [sms] = shop.sms.sent
    assert sms.to == PHONE
