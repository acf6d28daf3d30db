"""A person's consent as the API shows it, and promotional touches refused for a reason.

GET /api/contacts/{phone or email}: the consent ledger in order (the checkout's opt-in, then a
STOP reply or a withdrawal through Shopify's consent topic, an unsubscribe click), the
suppressions, and how many messages went to the address. POST /api/touches: bad input is a 422
that names the field. Both on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cartback.api.app import create_app
from tests.fakes.twilio import FakeTwilio
from tests.integration.conftest import CONFIG, PHONE, TOKEN, Shop, make_runtime

EMAIL = "astrid@example.com"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

TWILIO_AND_MAIL = CONFIG.replace(
    """    provider: outbox
    path: unused.jsonl
    sender: Acme""",
    """    provider: twilio
    account_sid: {sid}
    auth_token: {auth}
    messaging_service_sid: MG00000000000000000000000000000001
    base_url: https://twilio.test
    sender: "+15005550006\"""",
).replace(
    "    cost_per_segment: 0.30\n",
    "    cost_per_segment: 0.30\n  email:\n    provider: outbox\n    path: {mail}\n",
)


class ContactShop(Shop):
    twilio: FakeTwilio

    def contact(self, contact_id: str) -> Any:
        return self.api(f"/api/contacts/{contact_id}")

    def reply(self, text: str) -> None:
        form = self.twilio.inbound(PHONE, text)
        signature = self.twilio.sign("https://cb.example/webhooks/twilio/inbound", form)
        answer = self.client.post(
            "/webhooks/twilio/inbound", data=form, headers={"X-Twilio-Signature": signature}
        )
        assert answer.status_code == 200, answer.text


@pytest.fixture
def shop(db_url: str, tmp_path: Path) -> Iterator[ContactShop]:
    fake = FakeTwilio()
    runtime, clock, _ = make_runtime(
        db_url,
        tmp_path,
        TWILIO_AND_MAIL,
        transport=httpx.MockTransport(fake.handle),
        sid=fake.account_sid,
        auth=fake.auth_token,
        mail=tmp_path / "mail.jsonl",
    )
    with TestClient(create_app(runtime)) as client:
        contact_shop = ContactShop(runtime, client, clock, None)  # type: ignore[arg-type]
        contact_shop.twilio = fake
        yield contact_shop
    runtime.store.close()


def _history(contact: Any) -> list[tuple[str, bool, str]]:
    return [(e["channel"], e["granted"], e["source"]) for e in contact["history"]]


def test_a_phone_shows_the_checkout_opt_in_the_stop_reply_and_the_suppression(
    shop: ContactShop,
) -> None:
    shop.checkout()
    shop.advance(timedelta(minutes=30))
    assert len(shop.twilio.forms) == 1
    shop.clock.advance(timedelta(hours=1))
    shop.reply("STOP")

    contact = shop.contact("%2B4520123456")
    assert contact["id"] == PHONE
    assert contact["consent"] == {"sms": False, "email": None}
    assert _history(contact) == [("sms", True, "checkout"), ("sms", False, "reply:twilio")]
    assert (
        contact["history"][0]["detail"] == "buyer_accepts_sms_marketing=true on checkout 123123123"
    )
    assert contact["history"][1]["detail"] == "replied 'STOP'"
    assert [(s["channel"], s["reason"]) for s in contact["suppressed"]] == [("sms", "stop-reply")]
    assert contact["messages"] == 1
    # The same person, written as the shop's customers write their number.
    assert shop.contact("20 12 34 56")["id"] == PHONE


def test_an_email_shows_the_opt_in_the_withdrawal_and_the_unsubscribe(shop: ContactShop) -> None:
    shop.checkout(email="Astrid@Example.com", buyer_accepts_marketing=True)
    shop.advance(timedelta(minutes=30))
    shop.advance(timedelta(hours=24))
    [mail] = [m for m in shop.api("/api/messages") if m["channel"] == "email"]
    assert mail["recipient"] == EMAIL

    shop.clock.advance(timedelta(hours=1))
    withdrawal = {
        "id": 603851970716743426,
        "email_address": EMAIL,
        "email_marketing_consent": {
            "state": "unsubscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": shop.clock.now().isoformat(),
        },
    }
    assert shop.post("customers_email_marketing_consent/update", withdrawal).status_code == 200
    shop.clock.advance(timedelta(minutes=5))
    unsubscribe = mail["body"].split("/u/", 1)[1].split()[0]
    assert shop.client.get(f"/u/{unsubscribe}").status_code == 200

    contact = shop.contact("Astrid@Example.com")
    assert contact["id"] == EMAIL
    assert contact["consent"] == {"sms": None, "email": False}
    assert _history(contact) == [
        ("email", True, "checkout"),
        ("email", False, "shopify:customers_email_marketing_consent/update"),
        ("email", False, "unsubscribe-link"),
    ]
    [suppressed] = contact["suppressed"]
    assert (suppressed["channel"], suppressed["reason"]) == ("email", "unsubscribe")
    assert contact["messages"] == 1


def test_a_contact_that_is_neither_phone_nor_email_is_404(shop: ContactShop) -> None:
    response = shop.client.get("/api/contacts/not-a-person", headers=AUTH)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "neither an email address nor a phone number" in error["message"]


# --- POST /api/touches validation -------------------------------------------------------------


def _post(shop: ContactShop, touch: dict[str, Any]) -> httpx.Response:
    body = {"touches": [{"source": "klaviyo", **touch}]}
    response: httpx.Response = shop.client.post("/api/touches", json=body, headers=AUTH)
    return response


def _problems(response: httpx.Response) -> list[tuple[list[Any], str]]:
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"]["code"] == "invalid_request"
    return [(problem["loc"], problem["message"]) for problem in answer["problems"]]


def test_a_touch_without_a_time_zone_is_refused_naming_sent_at(shop: ContactShop) -> None:
    response = _post(shop, {"phone": PHONE, "channel": "sms", "sent_at": "2026-11-29T10:00:00"})

    [(loc, message)] = _problems(response)
    assert loc[:3] == ["body", "touches", 0]
    assert "sent_at" in message and "time zone" in message


def test_an_sms_touch_without_a_phone_is_refused_naming_phone(shop: ContactShop) -> None:
    response = _post(
        shop, {"email": EMAIL, "channel": "sms", "sent_at": "2026-11-29T10:00:00+01:00"}
    )

    [(loc, message)] = _problems(response)
    assert loc[:3] == ["body", "touches", 0]
    assert "`phone`" in message


def test_a_touch_on_an_unknown_channel_or_with_a_bad_number_is_refused(shop: ContactShop) -> None:
    unknown = _post(shop, {"phone": PHONE, "channel": "fax", "sent_at": "2026-11-29T10:00:00Z"})
    [(loc, _message)] = _problems(unknown)
    assert loc == ["body", "touches", 0, "channel"]

    bad = _post(shop, {"phone": "12", "channel": "sms", "sent_at": "2026-11-29T10:00:00Z"})
    assert bad.status_code == 422
    assert bad.json()["error"]["message"].startswith("touches[0].phone: phone number")
    assert shop.api("/api/contacts/%2B4520123456")["messages"] == 0
