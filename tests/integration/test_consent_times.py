"""Times from outside are claims (issue 14.3): nothing counts as happening after it arrived, so a
grant dated in the future cannot outrank a withdrawal made now, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.integration.conftest import PHONE, TOKEN, Shop

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_a_grant_dated_tomorrow_loses_to_a_withdrawal_made_now(shop: Shop) -> None:
    tomorrow = (shop.clock.now() + timedelta(days=1)).isoformat()
    shop.checkout(updated_at=tomorrow, created_at=tomorrow)  # SMS box ticked
    shop.clock.advance(timedelta(minutes=1))
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
    contact = shop.api(f"/api/contacts/{PHONE}")
    assert contact["consent"]["sms"] is False
    grant = contact["history"][0]
    assert grant["granted"] is True and grant["occurred_at"] < withdrawal_time(contact)


def withdrawal_time(contact: dict[str, Any]) -> str:
    [withdrawal] = [entry for entry in contact["history"] if not entry["granted"]]
    occurred: str = withdrawal["occurred_at"]
    return occurred


def test_a_checkout_dated_next_week_is_abandoned_on_time(shop: Shop) -> None:
    next_week = (shop.clock.now() + timedelta(days=7)).isoformat()
    shop.checkout(updated_at=next_week, created_at=next_week)

    shop.advance(timedelta(minutes=30))

    [sms] = shop.sms.sent
    assert sms.to == PHONE


def _consent(occurred_at: str) -> dict[str, Any]:
    return {
        "store": "acme",
        "channel": "sms",
        "granted": True,
        "phone": PHONE,
        "occurred_at": occurred_at,
        "wording": "Yes, text me offers",
    }


def test_api_consent_far_in_the_future_is_refused_clearly(shop: Shop) -> None:
    response = shop.client.post("/api/consent", json=_consent("9999-12-31T00:00:00Z"), headers=AUTH)
    assert response.status_code == 422, response.text
    assert "occurred_at" in response.json()["error"]["message"]
    later = (shop.clock.now() + timedelta(days=1)).isoformat()
    response = shop.client.post("/api/consent", json=_consent(later), headers=AUTH)
    assert response.status_code == 422, response.text
    assert "in the future" in response.json()["error"]["message"]


def test_api_consent_a_minute_ahead_counts_as_now(shop: Shop) -> None:
    ahead = (shop.clock.now() + timedelta(minutes=1)).isoformat()
    response = shop.client.post("/api/consent", json=_consent(ahead), headers=AUTH)
    assert response.status_code == 200, response.text
    [entry] = shop.api(f"/api/contacts/{PHONE}")["history"]
    assert entry["occurred_at"].startswith(shop.clock.now().isoformat()[:19])
