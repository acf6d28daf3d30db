from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime

import httpx
import pytest

from cartback.channels._http import GatewayAnswerError, GatewayUnavailable
from cartback.channels.base import MessageStatus, OutgoingMessage, SendStatus
from cartback.channels.inmobile import InMobileGateway, inbound_id, report_status
from cartback.clock import FakeClock
from cartback.domain.events import Channel
from tests.fakes.inmobile import FakeInMobile, callback_body, report

API_KEY = "inmobile-secret-key-0042"
TO = "+4520123456"
CALLBACK = "https://shop.example/webhooks/inmobile/status"


@pytest.fixture
def fake() -> FakeInMobile:
    return FakeInMobile(api_key=API_KEY)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gateway(fake: FakeInMobile, clock: FakeClock) -> InMobileGateway:
    return InMobileGateway(
        API_KEY,
        base_url="https://api.inmobile.test",
        status_callback_url=CALLBACK,
        clock=clock,
        transport=httpx.MockTransport(fake.handle),
    )


def sms(
    message_id: str = "msg-1", text: str = "Your basket is saved", **kw: object
) -> OutgoingMessage:
    fields: dict[str, object] = {
        "id": message_id,
        "channel": Channel.SMS,
        "to": TO,
        "sender": "DemoShop",
        "text": text,
        "country": "DK",
    }
    fields.update(kw)
    return OutgoingMessage(**fields)  # type: ignore[arg-type]


# -- the request ---------------------------------------------------------------------------


def test_send_posts_the_documented_request(gateway: InMobileGateway, fake: FakeInMobile) -> None:
    gateway.send(sms())
    request = fake.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.inmobile.test/v4/sms/outgoing"
    user, _, password = (
        base64.b64decode(request.headers["Authorization"][6:]).decode().partition(":")
    )
    assert password == API_KEY and user
    assert json.loads(request.content) == {
        "messages": [
            {
                "to": "4520123456",
                "text": "Your basket is saved",
                "from": "DemoShop",
                "countryHint": "DK",
                "messageId": "msg-1",
                "respectBlacklist": True,
                "statusCallbackUrl": CALLBACK,
                "encoding": "auto",
            }
        ]
    }


def test_without_callback_url_or_country_those_fields_are_left_out(
    fake: FakeInMobile, clock: FakeClock
) -> None:
    gateway = InMobileGateway(
        API_KEY, status_callback_url=None, clock=clock, transport=httpx.MockTransport(fake.handle)
    )
    gateway.send(sms(country=None))
    message = json.loads(fake.requests[0].content)["messages"][0]
    assert "statusCallbackUrl" not in message and "countryHint" not in message
    assert fake.requests[0].url.host == "api.inmobile.com"


def test_a_message_without_sender_is_refused_before_any_call(
    gateway: InMobileGateway, fake: FakeInMobile
) -> None:
    result = gateway.send(sms(sender=None))
    assert result.status == SendStatus.FAILED and result.error_code == "no_sender"
    assert fake.requests == []


# -- the answer ----------------------------------------------------------------------------


def test_accepted_message_reports_sms_count_and_id(
    gateway: InMobileGateway, clock: FakeClock
) -> None:
    result = gateway.send(sms(text="x" * 200))
    assert result.status == SendStatus.SENT
    assert result.provider_message_id == "msg-1"
    assert result.provider_segments == 2
    assert result.http_status == 200
    assert result.sent_at == clock.now()
    assert result.channel_used == Channel.SMS


def test_sending_the_same_message_id_twice_sends_once(
    gateway: InMobileGateway, fake: FakeInMobile
) -> None:
    first = gateway.send(sms())
    second = gateway.send(sms())
    assert first.provider_message_id == second.provider_message_id == "msg-1"
    assert len(fake.deliveries) == 1


def test_invalid_msisdn_in_the_answer_fails(fake: FakeInMobile, clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = fake.handle(request)
        body = answer.json()
        body["results"][0]["numberDetails"]["isValidMsisdn"] = False
        return httpx.Response(200, json=body)

    gateway = InMobileGateway(
        API_KEY, status_callback_url=None, clock=clock, transport=httpx.MockTransport(handler)
    )
    result = gateway.send(sms())
    assert result.status == SendStatus.FAILED and result.error_code == "invalid_msisdn"


def test_unreadable_2xx_answer_counts_as_sent_under_our_id(clock: FakeClock) -> None:
    gateway = InMobileGateway(
        API_KEY,
        status_callback_url=None,
        clock=clock,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, text="<html>ok</html>")),
    )
    result = gateway.send(sms())
    assert result.status == SendStatus.SENT
    assert result.provider_message_id == "msg-1" and result.provider_segments is None


# -- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_throttling_are_retried(
    gateway: InMobileGateway, fake: FakeInMobile, status: int
) -> None:
    fake.fail_next(status)
    result = gateway.send(sms())
    assert result.status == SendStatus.RETRY
    assert result.http_status == status
    assert fake.deliveries == []


def test_timeout_is_retried(gateway: InMobileGateway, fake: FakeInMobile) -> None:
    fake.timeout_next()
    result = gateway.send(sms())
    assert result.status == SendStatus.RETRY
    assert result.http_status is None
    assert result.error == "timeout (ReadTimeout)"


def test_connection_error_is_retried(gateway: InMobileGateway, fake: FakeInMobile) -> None:
    fake.disconnect_next()
    result = gateway.send(sms())
    assert result.status == SendStatus.RETRY
    assert result.error is not None and "connection error" in result.error


def test_4xx_fails_with_the_vendor_reason(gateway: InMobileGateway, fake: FakeInMobile) -> None:
    fake.reject_next(400, "Invalid request", "from: sender name too long")
    result = gateway.send(sms())
    assert result.status == SendStatus.FAILED
    assert result.http_status == 400
    assert result.error == "inMobile: Invalid request; from: sender name too long"
    assert result.error_code == "http_400"


def test_wrong_api_key_fails(fake: FakeInMobile, clock: FakeClock) -> None:
    gateway = InMobileGateway(
        "not-the-key",
        status_callback_url=None,
        clock=clock,
        transport=httpx.MockTransport(fake.handle),
    )
    result = gateway.send(sms())
    assert result.status == SendStatus.FAILED and result.http_status == 401


def test_vendor_reason_does_not_repeat_the_phone_number(
    gateway: InMobileGateway, fake: FakeInMobile
) -> None:
    fake.reject_next(400, "Invalid request", "to: 4520123456 is not a valid msisdn")
    result = gateway.send(sms())
    assert result.error is not None
    assert "20123456" not in result.error and "+45******56" in result.error


def test_no_secret_or_number_in_logs_or_errors(
    gateway: InMobileGateway, fake: FakeInMobile, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.reject_next(400, "Bad number 4520123456")
    fake.timeout_next()
    fake.fail_next(500)
    results = [gateway.send(sms()) for _ in range(3)]
    texts = [r.error or "" for r in results] + [caplog.text]
    texts += [str(value) for record in caplog.records for value in record.__dict__.values()]
    for text in texts:
        assert API_KEY not in text
        assert "20123456" not in text


# -- status reports ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "error", "expected"),
    [
        (1, None, MessageStatus.DELIVERED),
        (0, None, MessageStatus.SENT),
        (-1, -1, MessageStatus.UNDELIVERED),
        (-1, -5, MessageStatus.UNDELIVERED),
        (-1, -3, MessageStatus.FAILED),
        (-2, -102, MessageStatus.FAILED),
    ],
)
def test_each_state_code_maps_to_a_status(
    gateway: InMobileGateway, state: int, error: int | None, expected: MessageStatus
) -> None:
    [parsed] = gateway.parse_status_reports(callback_body(report("msg-1", state, error)))
    assert parsed.status == expected
    assert parsed.message_id == parsed.provider_message_id == "msg-1"
    assert parsed.suppress is False
    assert parsed.error_code == (None if state == 1 else str(-1 if error is None else error))


def test_blacklisted_on_account_fails_and_suppresses(gateway: InMobileGateway) -> None:
    [parsed] = gateway.parse_status_reports(callback_body(report("msg-1", -2, -105)))
    assert parsed.status == MessageStatus.FAILED
    assert parsed.suppress is True
    assert parsed.error == "Msisdn blacklisted on account"


def test_number_cooldown_is_skipped_not_failed(gateway: InMobileGateway) -> None:
    [parsed] = gateway.parse_status_reports(callback_body(report("msg-1", -2, -106)))
    assert parsed.status == MessageStatus.SKIPPED
    assert parsed.suppress is False


def test_report_carries_time_segments_and_channel(gateway: InMobileGateway) -> None:
    body = callback_body(report("a", 1, sms_count=3), report("b", -1, -1))
    first, second = gateway.parse_status_reports(body)
    assert first.at == datetime(2026, 11, 29, 12, 1, tzinfo=UTC)
    assert first.provider_segments == 3
    assert first.channel_used == Channel.SMS and first.provider == "inmobile"
    assert second.message_id == "b"


def test_report_without_times_uses_the_clock(gateway: InMobileGateway, clock: FakeClock) -> None:
    item = report("a", 1)
    del item["deliveryInfo"]["doneTime"], item["deliveryInfo"]["sendTime"]
    [parsed] = gateway.parse_status_reports(callback_body(item))
    assert parsed.at == clock.now()


def test_fake_blacklist_produces_a_suppressing_report(
    gateway: InMobileGateway, fake: FakeInMobile
) -> None:
    fake.blacklisted.add("4520123456")
    assert gateway.send(sms()).status == SendStatus.SENT
    [parsed] = gateway.parse_status_reports(callback_body(*fake.pending_reports))
    assert parsed.suppress is True


@pytest.mark.parametrize("body", [b"", b"not json", b'{"reports": [{"messageId": "x"}]}'])
def test_unreadable_callback_raises(gateway: InMobileGateway, body: bytes) -> None:
    with pytest.raises(GatewayAnswerError):
        gateway.parse_status_reports(body)


def test_report_status_table() -> None:
    assert report_status(1, None) == (MessageStatus.DELIVERED, False)
    assert report_status(-1, -105) == (MessageStatus.FAILED, True)
    assert report_status(-1, -106) == (MessageStatus.SKIPPED, False)


# -- inbound -------------------------------------------------------------------------------


def test_fetch_inbound_reads_and_normalises_replies(
    gateway: InMobileGateway, fake: FakeInMobile
) -> None:
    fake.queue_inbound(
        "45", "20123456", "STOP", received_at=datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
    )
    [reply] = gateway.fetch_inbound()
    request = fake.requests[0]
    assert request.method == "GET" and request.url.path == "/v4/sms/incoming/messages"
    assert request.url.params["limit"] == "250"
    assert reply.sender == "+4520123456"
    assert reply.text == "STOP"
    assert reply.recipient == "4588776655"
    assert reply.received_at == datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
    assert reply.provider == "inmobile" and reply.provider_id.startswith("inm-")
    assert gateway.fetch_inbound() == []  # handed out once


def test_inbound_ids_are_stable_and_distinct() -> None:
    a = inbound_id("+4520123456", "2026-11-29T13:00:00Z", "STOP", "4588776655")
    assert a == inbound_id("+4520123456", "2026-11-29T13:00:00Z", "STOP", "4588776655")
    assert a != inbound_id("+4520123456", "2026-11-29T13:00:01Z", "STOP", "4588776655")


def test_inbound_from_a_text_sender_is_skipped(
    gateway: InMobileGateway, fake: FakeInMobile
) -> None:
    fake.queue_inbound(None, None, "hello", raw_source="inMobile")
    fake.queue_inbound("45", "20123456", "START")
    replies = gateway.fetch_inbound()
    assert [r.text for r in replies] == ["START"]


def test_inbound_poll_failure_raises_without_secrets(
    gateway: InMobileGateway, fake: FakeInMobile
) -> None:
    fake.fail_next(500)
    with pytest.raises(GatewayUnavailable) as caught:
        gateway.fetch_inbound()
    assert API_KEY not in str(caught.value)
