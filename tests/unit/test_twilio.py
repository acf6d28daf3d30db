from __future__ import annotations

import base64
import logging
from urllib.parse import parse_qsl

import httpx
import pytest

from cartback.channels._http import GatewayAnswerError
from cartback.channels.base import MessageStatus, OutgoingMessage, RichContent, SendStatus
from cartback.channels.twilio import TwilioGateway, channel_used, signature, verify_signature
from cartback.clock import FakeClock
from cartback.domain.events import Channel
from tests.fakes.twilio import FakeTwilio

TO = "+4520123456"
FROM = "+15005550006"
SERVICE = "MG" + "1" * 32
CALLBACK = "https://shop.example/webhooks/twilio/status"

# Twilio's worked example ("Webhooks security": validating requests), auth token 12345.
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


@pytest.fixture
def fake() -> FakeTwilio:
    return FakeTwilio()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_gateway(
    fake: FakeTwilio,
    clock: FakeClock,
    *,
    from_number: str | None = FROM,
    service: str | None = SERVICE,
    callback: str | None = CALLBACK,
) -> TwilioGateway:
    return TwilioGateway(
        fake.account_sid,
        fake.auth_token,
        from_number=from_number,
        messaging_service_sid=service,
        base_url="https://api.twilio.test",
        status_callback_url=callback,
        clock=clock,
        transport=httpx.MockTransport(fake.handle),
    )


@pytest.fixture
def gateway(fake: FakeTwilio, clock: FakeClock) -> TwilioGateway:
    return make_gateway(fake, clock)


def message(
    message_id: str = "msg-1", channel: Channel = Channel.SMS, **kw: object
) -> OutgoingMessage:
    fields: dict[str, object] = {
        "id": message_id,
        "channel": channel,
        "to": TO,
        "sender": "DemoShop",
        "text": "Your basket is saved: https://s.example/r/abc",
    }
    fields.update(kw)
    return OutgoingMessage(**fields)  # type: ignore[arg-type]


def form_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


# -- the request ---------------------------------------------------------------------------


def test_sms_posts_the_documented_form(gateway: TwilioGateway, fake: FakeTwilio) -> None:
    gateway.send(message())
    request = fake.requests[0]
    assert request.method == "POST"
    assert str(request.url) == (
        f"https://api.twilio.test/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    )
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    credentials = base64.b64decode(request.headers["Authorization"][6:]).decode()
    assert credentials == f"{fake.account_sid}:{fake.auth_token}"
    assert request.headers["I-Twilio-Idempotency-Token"] == "msg-1"
    assert form_of(request) == {
        "To": TO,
        "Body": "Your basket is saved: https://s.example/r/abc",
        "From": FROM,
        "StatusCallback": CALLBACK,
    }


def test_sms_without_a_number_goes_through_the_messaging_service(
    fake: FakeTwilio, clock: FakeClock
) -> None:
    make_gateway(fake, clock, from_number=None, callback=None).send(message())
    form = form_of(fake.requests[0])
    assert form["MessagingServiceSid"] == SERVICE
    assert "From" not in form and "StatusCallback" not in form


def test_rcs_goes_through_the_messaging_service_with_the_image(
    gateway: TwilioGateway, fake: FakeTwilio
) -> None:
    rich = RichContent(image_url="https://cdn.example/p.jpg", button_url="https://s.example/r/abc")
    result = gateway.send(message(channel=Channel.RCS, rich=rich))
    form = form_of(fake.requests[0])
    assert form["MessagingServiceSid"] == SERVICE
    assert "From" not in form
    assert form["To"] == TO  # not "rcs:+...": that would switch Twilio's SMS fallback off
    assert form["MediaUrl"] == "https://cdn.example/p.jpg"
    assert "https://s.example/r/abc" in form["Body"]
    assert result.status == SendStatus.SENT
    assert result.channel_used is None  # known only from the status callback


def test_rcs_without_a_messaging_service_is_sent_as_sms(fake: FakeTwilio, clock: FakeClock) -> None:
    gateway = make_gateway(fake, clock, service=None)
    assert gateway.supports_rcs is False
    result = gateway.send(message(channel=Channel.RCS, fallback_text="Short SMS text"))
    form = form_of(fake.requests[0])
    assert form["From"] == FROM and form["Body"] == "Short SMS text"
    assert result.channel_used == Channel.SMS


def test_supports_rcs_follows_the_messaging_service(gateway: TwilioGateway) -> None:
    assert gateway.supports_rcs is True


def test_a_sender_is_required(fake: FakeTwilio, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="from_number or messaging_service_sid"):
        make_gateway(fake, clock, from_number=None, service=None)


# -- the answer ----------------------------------------------------------------------------


def test_accepted_message_reports_sid_and_segments(
    gateway: TwilioGateway, clock: FakeClock
) -> None:
    result = gateway.send(message(text="y" * 200))
    assert result.status == SendStatus.SENT
    assert result.provider_message_id is not None and result.provider_message_id.startswith("SM")
    assert result.provider_segments == 2
    assert result.http_status == 201
    assert result.sent_at == clock.now()
    assert result.channel_used == Channel.SMS


def test_the_same_message_id_sends_once(gateway: TwilioGateway, fake: FakeTwilio) -> None:
    first = gateway.send(message())
    second = gateway.send(message())
    assert first.provider_message_id == second.provider_message_id
    assert len(fake.deliveries) == 1


# -- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_throttling_are_retried(
    gateway: TwilioGateway, fake: FakeTwilio, status: int
) -> None:
    fake.fail_next(status)
    result = gateway.send(message())
    assert result.status == SendStatus.RETRY and result.http_status == status


def test_timeout_and_connection_errors_are_retried(
    gateway: TwilioGateway, fake: FakeTwilio
) -> None:
    fake.timeout_next()
    fake.disconnect_next()
    assert gateway.send(message()).status == SendStatus.RETRY
    assert gateway.send(message()).status == SendStatus.RETRY
    assert fake.deliveries == []


def test_opted_out_recipient_fails_and_suppresses(gateway: TwilioGateway, fake: FakeTwilio) -> None:
    fake.opted_out.add(TO)
    result = gateway.send(message())
    assert result.status == SendStatus.FAILED
    assert result.suppress is True
    assert result.error_code == "21610"
    assert result.error == "twilio 21610: Attempt to send to unsubscribed recipient"


@pytest.mark.parametrize(("to", "code"), [("+45 2012", "21211"), ("+4532123456", "21614")])
def test_invalid_numbers_fail_without_suppressing(
    gateway: TwilioGateway, fake: FakeTwilio, to: str, code: str
) -> None:
    fake.not_mobile.add("+4532123456")
    result = gateway.send(message(to=to))
    assert result.status == SendStatus.FAILED
    assert result.error_code == code and result.suppress is False
    assert result.error is not None and "32123456" not in result.error


def test_other_4xx_fails_with_the_vendor_reason(gateway: TwilioGateway, fake: FakeTwilio) -> None:
    fake.reject_next(400, 21408, "Permission to send an SMS has not been enabled")
    result = gateway.send(message())
    assert result.status == SendStatus.FAILED and result.http_status == 400
    assert result.error == "twilio 21408: Permission to send an SMS has not been enabled"


def test_wrong_token_fails(fake: FakeTwilio, clock: FakeClock) -> None:
    gateway = TwilioGateway(
        fake.account_sid,
        "wrong-token",
        from_number=FROM,
        messaging_service_sid=None,
        status_callback_url=None,
        clock=clock,
        transport=httpx.MockTransport(fake.handle),
    )
    result = gateway.send(message())
    assert result.status == SendStatus.FAILED and result.error_code == "20003"


def test_no_secret_or_number_in_logs_or_errors(
    gateway: TwilioGateway, fake: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.not_mobile.add(TO)
    fake.timeout_next()
    fake.fail_next(500)
    results = [gateway.send(message()) for _ in range(3)]
    texts = [r.error or "" for r in results] + [caplog.text]
    texts += [str(value) for record in caplog.records for value in record.__dict__.values()]
    for text in texts:
        assert fake.auth_token not in text
        assert "20123456" not in text


# -- signatures ----------------------------------------------------------------------------


def test_signature_matches_twilios_documented_example() -> None:
    assert signature(DOC_URL, DOC_PARAMS, "12345") == DOC_SIGNATURE
    assert verify_signature(DOC_URL, DOC_PARAMS, DOC_SIGNATURE, "12345")


def test_signature_matches_the_fakes_independent_computation(fake: FakeTwilio) -> None:
    form = fake.status_callback("SMabc", "delivered")
    assert signature(CALLBACK, form, fake.auth_token) == fake.sign(CALLBACK, form)


@pytest.mark.parametrize(
    ("url", "params", "header", "token"),
    [
        (DOC_URL, {**DOC_PARAMS, "Digits": "9999"}, DOC_SIGNATURE, "12345"),
        (DOC_URL, {**DOC_PARAMS, "Extra": "1"}, DOC_SIGNATURE, "12345"),
        ("https://mycompany.com/myapp.php?foo=1&bar=3", DOC_PARAMS, DOC_SIGNATURE, "12345"),
        ("http://mycompany.com/myapp.php?foo=1&bar=2", DOC_PARAMS, DOC_SIGNATURE, "12345"),
        (DOC_URL, DOC_PARAMS, DOC_SIGNATURE, "54321"),
        (DOC_URL, DOC_PARAMS, DOC_SIGNATURE[:-2], "12345"),
        (DOC_URL, DOC_PARAMS, None, "12345"),
        (DOC_URL, DOC_PARAMS, "", "12345"),
    ],
)
def test_tampered_requests_do_not_verify(
    url: str, params: dict[str, str], header: str | None, token: str
) -> None:
    assert not verify_signature(url, params, header, token)


# -- status callbacks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("queued", MessageStatus.QUEUED),
        ("accepted", MessageStatus.QUEUED),
        ("sending", MessageStatus.QUEUED),
        ("sent", MessageStatus.SENT),
        ("delivered", MessageStatus.DELIVERED),
        ("read", MessageStatus.DELIVERED),
        ("undelivered", MessageStatus.UNDELIVERED),
        ("failed", MessageStatus.FAILED),
    ],
)
def test_status_callback_statuses(
    gateway: TwilioGateway, fake: FakeTwilio, raw: str, expected: MessageStatus
) -> None:
    report = gateway.parse_status_callback(fake.status_callback("SMabc", raw))
    assert report.status == expected
    assert report.provider == "twilio" and report.provider_message_id == "SMabc"
    assert report.suppress is False and report.error_code is None


def test_status_callback_error_21610_suppresses(gateway: TwilioGateway, fake: FakeTwilio) -> None:
    report = gateway.parse_status_callback(
        fake.status_callback("SMabc", "failed", error_code=21610)
    )
    assert report.status == MessageStatus.FAILED
    assert report.suppress is True and report.error_code == "21610"


def test_status_callback_for_rcs_that_went_out_as_sms(
    gateway: TwilioGateway, fake: FakeTwilio
) -> None:
    sent = gateway.send(message(channel=Channel.RCS))
    assert sent.provider_message_id is not None
    report = gateway.parse_status_callback(
        fake.status_callback(sent.provider_message_id, "delivered", channel="sms")
    )
    assert report.channel_used == Channel.SMS
    assert report.status == MessageStatus.DELIVERED


def test_status_callback_for_rcs_delivered_as_rcs(gateway: TwilioGateway, fake: FakeTwilio) -> None:
    sent = gateway.send(message(channel=Channel.RCS))
    assert sent.provider_message_id is not None
    report = gateway.parse_status_callback(
        fake.status_callback(sent.provider_message_id, "read", channel="rcs")
    )
    assert report.channel_used == Channel.RCS


def test_channel_prefix_names_rcs() -> None:
    assert channel_used({"ChannelPrefix": "rcs", "From": FROM, "To": TO}) == Channel.RCS
    assert channel_used({"From": FROM, "To": TO}) == Channel.SMS


@pytest.mark.parametrize("form", [{}, {"MessageSid": "SMabc"}, {"MessageStatus": "sent"}])
def test_incomplete_status_callback_raises(gateway: TwilioGateway, form: dict[str, str]) -> None:
    with pytest.raises(GatewayAnswerError):
        gateway.parse_status_callback(form)


# -- inbound -------------------------------------------------------------------------------


def test_inbound_reply_is_parsed(
    gateway: TwilioGateway, fake: FakeTwilio, clock: FakeClock
) -> None:
    reply = gateway.parse_inbound(fake.inbound("+45 20 12 34 56", "STOP"))
    assert reply.sender == "+4520123456"
    assert reply.recipient == "+15005550006"
    assert reply.text == "STOP"
    assert reply.provider == "twilio" and reply.provider_id == "SM" + "a" * 32
    assert reply.received_at == clock.now()


def test_inbound_rcs_reply_drops_the_address_prefix(
    gateway: TwilioGateway, fake: FakeTwilio
) -> None:
    reply = gateway.parse_inbound(fake.inbound("rcs:+4520123456", "STOP"))
    assert reply.sender == "+4520123456"


def test_inbound_with_an_invalid_sender_raises_without_the_number(
    gateway: TwilioGateway, fake: FakeTwilio
) -> None:
    with pytest.raises(GatewayAnswerError) as caught:
        gateway.parse_inbound(fake.inbound("+45123", "STOP"))
    assert "45123" not in str(caught.value)
