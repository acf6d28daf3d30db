"""Real gateway clients against fakes that answer in the vendors' shapes, through the engine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cartback.api.app import create_app
from cartback.channels.twilio import ERROR_TOO_MANY_REQUESTS, LONG_CODE_MPS
from cartback.domain.events import Channel
from cartback.engine.pacing import TokenBucket
from cartback.store.tables import message_attempts, suppressions
from tests.fakes.inmobile import FakeInMobile, callback_body, report
from tests.fakes.twilio import FakeTwilio
from tests.integration.conftest import CONFIG, PHONE, Shop, make_runtime

INMOBILE = CONFIG.replace(
    """    provider: outbox
    path: unused.jsonl
    sender: Acme""",
    """    provider: inmobile
    api_key: inmobile-test-key
    base_url: https://inmobile.test
    sender: Acme
    max_attempts: 3
    retry_backoff: 1m""",
)
TWILIO = CONFIG.replace(
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
    "      - send: sms\n", "      - send: rcs\n        fallback: sms\n        title: Your basket\n"
)


@dataclass
class GatewayShop(Shop):
    fake: object = None


@pytest.fixture
def inmobile(db_url: str, tmp_path: Path) -> Iterator[GatewayShop]:
    fake = FakeInMobile()
    runtime, clock, _ = make_runtime(
        db_url, tmp_path, INMOBILE, transport=httpx.MockTransport(fake.handle)
    )
    with TestClient(create_app(runtime)) as client:
        yield GatewayShop(runtime, client, clock, None, fake)  # type: ignore[arg-type]
    runtime.store.close()


@pytest.fixture
def twilio_shop(db_url: str, tmp_path: Path) -> Iterator[GatewayShop]:
    fake = FakeTwilio()
    runtime, clock, _ = make_runtime(
        db_url,
        tmp_path,
        TWILIO,
        transport=httpx.MockTransport(fake.handle),
        sid=fake.account_sid,
        auth=fake.auth_token,
    )
    with TestClient(create_app(runtime)) as client:
        yield GatewayShop(runtime, client, clock, None, fake)  # type: ignore[arg-type]
    runtime.store.close()


def _attempts(shop: Shop) -> list[tuple[int, str, int | None]]:
    with shop.runtime.store.engine.connect() as conn:
        rows = conn.execute(select(message_attempts).order_by(message_attempts.c.number)).all()
    return [(r.number, r.outcome, r.http_status) for r in rows]


def test_inmobile_send_carries_our_id_and_callback_and_keeps_its_segment_count(
    inmobile: GatewayShop,
) -> None:
    fake: FakeInMobile = inmobile.fake  # type: ignore[assignment]
    inmobile.checkout()
    inmobile.advance(timedelta(minutes=30))
    [sent] = fake.deliveries
    [message] = inmobile.api("/api/messages")
    assert sent["messageId"] == message["id"]
    assert sent["to"] == PHONE.lstrip("+") and sent["from"] == "Acme"
    assert sent["respectBlacklist"] is True and sent["encoding"] == "auto"
    assert sent["statusCallbackUrl"].startswith("https://cb.example/webhooks/inmobile/status?key=")
    assert message["status"] == "sent"

    key = inmobile.runtime.signing.callback_key()
    body = callback_body(report(message["id"], 1, sms_count=1))
    answer = inmobile.client.post(f"/webhooks/inmobile/status?key={key}", content=body)
    assert answer.status_code == 200 and answer.json()["matched"] == 1
    assert inmobile.api("/api/messages")[0]["status"] == "delivered"
    assert inmobile.api("/api/report")["messages_delivered"] == 1


def test_inmobile_status_callback_with_a_wrong_key_is_refused(inmobile: GatewayShop) -> None:
    answer = inmobile.client.post("/webhooks/inmobile/status?key=nope", content=callback_body())
    assert answer.status_code == 401


def test_a_5xx_is_retried_with_backoff_under_the_same_id_and_each_attempt_is_a_row(
    inmobile: GatewayShop,
) -> None:
    fake: FakeInMobile = inmobile.fake  # type: ignore[assignment]
    fake.fail_next(500)
    fake.timeout_next()
    inmobile.checkout()
    inmobile.advance(timedelta(minutes=30))
    assert inmobile.api("/api/messages")[0]["status"] == "queued"
    assert inmobile.advance(timedelta(seconds=10)) == 0  # backing off
    inmobile.advance(timedelta(minutes=3))  # second try: a timeout
    inmobile.advance(timedelta(minutes=5))  # third try: accepted
    ids = {r.url.path for r in fake.requests}
    assert ids == {"/v4/sms/outgoing"}
    sent_ids = [m["messageId"] for m in map(_json, fake.requests)]
    assert len(set(sent_ids)) == 1 and len(sent_ids) == 3
    assert [a[1] for a in _attempts(inmobile)] == ["retry", "retry", "sent"]
    assert _attempts(inmobile)[0][2] == 500
    [message] = inmobile.api("/api/messages")
    assert message["status"] == "sent"
    reasons = [e["reason"] for e in inmobile.cart()["timeline"] if e["kind"] == "decision"]
    assert reasons.count("gateway_retry") == 2


def test_a_4xx_fails_with_the_gateways_reason_and_is_not_retried(inmobile: GatewayShop) -> None:
    fake: FakeInMobile = inmobile.fake  # type: ignore[assignment]
    fake.reject_next(400, "Validation error", "Invalid sender")
    inmobile.checkout()
    inmobile.advance(timedelta(minutes=30))
    inmobile.advance(timedelta(hours=1))
    [message] = inmobile.api("/api/messages")
    assert message["status"] == "failed" and "Invalid sender" in message["error"]
    assert len(fake.requests) == 1


def test_blacklisted_report_suppresses_the_number_and_cooldown_is_a_skip(
    inmobile: GatewayShop,
) -> None:
    inmobile.checkout()
    inmobile.advance(timedelta(minutes=30))
    [message] = inmobile.api("/api/messages")
    key = inmobile.runtime.signing.callback_key()
    body = callback_body(report(message["id"], -1, -105))
    inmobile.client.post(f"/webhooks/inmobile/status?key={key}", content=body)
    with inmobile.runtime.store.engine.connect() as conn:
        [row] = conn.execute(select(suppressions)).all()
    assert (row.channel, row.address) == ("sms", PHONE)

    body = callback_body(report(message["id"], -1, -106))
    inmobile.client.post(f"/webhooks/inmobile/status?key={key}", content=body)
    reasons = [e["reason"] for e in inmobile.cart()["timeline"] if e["kind"] == "decision"]
    assert "gateway_cooldown" in reasons


def test_stop_reply_polled_from_inmobile_suppresses_and_is_in_the_ledger(
    inmobile: GatewayShop,
) -> None:
    fake: FakeInMobile = inmobile.fake  # type: ignore[assignment]
    inmobile.checkout()
    fake.queue_inbound("45", "20123456", " Stop! ")
    inmobile.runtime.worker.run_once()
    inmobile.advance(timedelta(minutes=30))
    assert fake.deliveries == []
    reasons = [e["reason"] for e in inmobile.cart()["timeline"] if e["kind"] == "decision"]
    assert "suppressed" in reasons
    fake.queue_inbound("45", "20123456", "START")
    inmobile.clock.advance(timedelta(minutes=1))
    inmobile.runtime.worker.run_once()
    with inmobile.runtime.store.engine.connect() as conn:
        assert conn.execute(select(suppressions)).all() == []


def test_twilio_rcs_goes_through_the_messaging_service_and_reports_sms_fallback(
    twilio_shop: GatewayShop,
) -> None:
    fake: FakeTwilio = twilio_shop.fake  # type: ignore[assignment]
    twilio_shop.checkout()
    twilio_shop.advance(timedelta(minutes=30))
    [(sid, form)] = fake.forms.items()
    assert form["MessagingServiceSid"].startswith("MG") and form["To"] == PHONE
    assert form["StatusCallback"] == "https://cb.example/webhooks/twilio/status"
    [message] = twilio_shop.api("/api/messages")
    assert message["channel"] == "rcs"

    callback = fake.status_callback(sid, "delivered", channel="sms")
    url = "https://cb.example/webhooks/twilio/status"
    headers = {"X-Twilio-Signature": fake.sign(url, callback)}
    answer = twilio_shop.client.post("/webhooks/twilio/status", data=callback, headers=headers)
    assert answer.status_code == 204
    [message] = twilio_shop.api("/api/messages")
    assert message["status"] == "delivered"
    with twilio_shop.runtime.store.engine.connect() as conn:
        from cartback.store.tables import messages

        assert conn.execute(select(messages.c.channel_used)).scalar_one() == "sms"
    assert twilio_shop.api("/api/report")["sms_segments"] == 1  # it went out as an SMS


def test_twilio_callbacks_with_a_bad_signature_are_refused(twilio_shop: GatewayShop) -> None:
    fake: FakeTwilio = twilio_shop.fake  # type: ignore[assignment]
    form = fake.inbound(PHONE, "STOP")
    answer = twilio_shop.client.post(
        "/webhooks/twilio/inbound", data=form, headers={"X-Twilio-Signature": "bad"}
    )
    assert answer.status_code == 401
    with twilio_shop.runtime.store.engine.connect() as conn:
        assert conn.execute(select(suppressions)).all() == []


def _twilio_reply(shop: GatewayShop, text: str) -> httpx.Response:
    fake: FakeTwilio = shop.fake  # type: ignore[assignment]
    form = fake.inbound(PHONE, text)
    url = "https://cb.example/webhooks/twilio/inbound"
    return shop.client.post(
        "/webhooks/twilio/inbound", data=form, headers={"X-Twilio-Signature": fake.sign(url, form)}
    )


def test_twilio_inbound_stop_suppresses_everything(twilio_shop: GatewayShop) -> None:
    fake: FakeTwilio = twilio_shop.fake  # type: ignore[assignment]
    twilio_shop.checkout()
    answer = _twilio_reply(twilio_shop, "unsubscribe")
    assert answer.status_code == 200 and "<Response>" in answer.text
    twilio_shop.advance(timedelta(minutes=30))
    assert fake.forms == {}


def test_opted_out_answer_21610_fails_and_suppresses(twilio_shop: GatewayShop) -> None:
    fake: FakeTwilio = twilio_shop.fake  # type: ignore[assignment]
    fake.opted_out.add(PHONE)
    twilio_shop.checkout()
    twilio_shop.advance(timedelta(minutes=30))
    [message] = twilio_shop.api("/api/messages")
    assert message["status"] == "failed"
    with twilio_shop.runtime.store.engine.connect() as conn:
        [row] = conn.execute(select(suppressions)).all()
    assert row.address == PHONE


def test_a_gateway_that_stays_down_rests_and_costs_no_time(inmobile: GatewayShop) -> None:
    fake: FakeInMobile = inmobile.fake  # type: ignore[assignment]
    for _ in range(30):
        fake.fail_next(503)
    for n in range(6):
        inmobile.checkout(token=f"t{n}", sms_marketing_phone=f"+452012345{n}")
    inmobile.advance(timedelta(minutes=30))
    # Three failures open the breaker; the other carts are moved on without a call.
    assert len(fake.requests) == 3
    assert len(inmobile.api("/api/messages")) == 6


def _json(request: httpx.Request) -> dict:
    import json

    return json.loads(request.content)["messages"][0]


def test_spend_follows_the_gateways_segment_count(inmobile: GatewayShop) -> None:
    inmobile.checkout()
    inmobile.advance(timedelta(minutes=30))
    [message] = inmobile.api("/api/messages")
    key = inmobile.runtime.signing.callback_key()
    body = callback_body(report(message["id"], 1, sms_count=2))
    inmobile.client.post(f"/webhooks/inmobile/status?key={key}", content=body)
    report_now = inmobile.api("/api/report")
    assert Decimal(report_now["spend"]) == Decimal("0.60")
    assert report_now["sms_segments"] == 2  # what the gateway billed, not our estimate


def test_a_help_reply_withdraws_no_consent(twilio_shop: GatewayShop) -> None:
    fake: FakeTwilio = twilio_shop.fake  # type: ignore[assignment]
    twilio_shop.checkout()
    assert _twilio_reply(twilio_shop, "HELP").status_code == 200
    twilio_shop.advance(timedelta(minutes=30))
    # HELP was answered (the shop's name, how to opt out), and the reminder still went out.
    answer, reminder = (form["Body"] for form in fake.forms.values())
    assert answer.startswith("Acme: reminders about your basket. Reply STOP to opt out.")
    assert reminder.startswith("Hi John")
    with twilio_shop.runtime.store.reading() as tx:
        assert tx.consent.suppressions(PHONE) == []
        assert not tx.consent.replied_stop(PHONE)


def _bucket(shop: Shop, sender: str) -> TokenBucket | None:
    gateway = shop.runtime.gateways.by_channel[Channel.SMS]
    return shop.runtime.scheduler.sender.dispatcher.pacing.of(gateway).bucket(sender)


def test_twilio_paces_its_long_code_and_a_429_20429_slows_that_sender(
    twilio_shop: GatewayShop,
) -> None:
    fake: FakeTwilio = twilio_shop.fake  # type: ignore[assignment]
    fake.reject_next(429, ERROR_TOO_MANY_REQUESTS, "Too Many Requests")
    twilio_shop.checkout()
    twilio_shop.advance(timedelta(minutes=30))

    assert _attempts(twilio_shop) == [(1, "retry", 429)]
    bucket = _bucket(twilio_shop, "+15005550006")
    assert bucket is not None
    assert bucket.limit == LONG_CODE_MPS, "no rate_limit configured: the long code's own"
    assert bucket.rate == LONG_CODE_MPS / 2


def test_an_inmobile_429_slows_the_sender_down(db_url: str, tmp_path: Path) -> None:
    fake = FakeInMobile()
    fake.fail_next(429, "Too many requests")
    paced = INMOBILE.replace("    max_attempts: 3\n", "    max_attempts: 3\n    rate_limit: 4\n")
    runtime, clock, _ = make_runtime(
        db_url, tmp_path, paced, transport=httpx.MockTransport(fake.handle)
    )
    with TestClient(create_app(runtime)) as client:
        shop = Shop(runtime, client, clock, None)  # type: ignore[arg-type]
        shop.checkout()
        shop.advance(timedelta(minutes=30))
        assert _attempts(shop) == [(1, "retry", 429)]
        bucket = _bucket(shop, "Acme")
        assert bucket is not None and (bucket.limit, bucket.rate) == (4, 2)
    runtime.store.close()


def test_inmobile_documents_no_rate_so_none_is_kept_unless_configured(
    inmobile: GatewayShop,
) -> None:
    inmobile.checkout()
    inmobile.advance(timedelta(minutes=30))
    assert _attempts(inmobile) == [(1, "sent", 200)]
    assert _bucket(inmobile, "Acme") is None


def test_an_inmobile_429_without_a_rate_gives_the_sender_one(inmobile: GatewayShop) -> None:
    fake: FakeInMobile = inmobile.fake  # type: ignore[assignment]
    fake.fail_next(429, "Too many requests")
    inmobile.checkout()
    inmobile.advance(timedelta(minutes=30))

    assert _attempts(inmobile) == [(1, "retry", 429)]
    bucket = _bucket(inmobile, "Acme")
    assert bucket is not None, "the gateway showed its limit: the sender is paced from now on"
    assert bucket.rate == bucket.limit / 2
