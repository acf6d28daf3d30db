"""Each provider's documented pace, used when the channel's config sets none; a 429 from each
HTTP client comes back as a retry that carries the 429 (what the pacer slows a sender on)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from cartback.channels import inmobile, smtp, twilio
from cartback.channels.base import OutgoingMessage, SendStatus
from cartback.channels.inmobile import InMobileGateway
from cartback.channels.twilio import TwilioGateway, sender_rate
from cartback.cli.summary import _channel_lines
from cartback.clock import FakeClock
from cartback.config import EmailChannelConfig, SmsChannelConfig
from cartback.config.channels import ChannelsConfig
from cartback.domain.events import Channel
from cartback.engine.pacing import Limits
from cartback.gateways import pace

TWILIO = {"provider": "twilio", "account_sid": "AC1", "auth_token": "t0k"}
INMOBILE = {"provider": "inmobile", "api_key": "k3y", "sender": "Acme"}
SMTP = {"provider": "smtp", "host": "smtp.example.com", "from": "shop@example.com"}


def sms(**fields: Any) -> SmsChannelConfig:
    config: SmsChannelConfig = TypeAdapter(SmsChannelConfig).validate_python(fields)
    return config


def email(**fields: Any) -> EmailChannelConfig:
    config: EmailChannelConfig = TypeAdapter(EmailChannelConfig).validate_python(fields)
    return config


@pytest.mark.parametrize(
    ("sender", "rate"),
    [
        ("+18005550100", twilio.TOLL_FREE_MPS),
        ("+18885550100", twilio.TOLL_FREE_MPS),
        ("+15005550006", twilio.LONG_CODE_MPS),
        ("+4512345678", twilio.INTERNATIONAL_MPS),
        ("Acme", None),  # through the Messaging Service: its pool's pace, unknown to us
    ],
)
def test_twilios_rate_follows_the_kind_of_sender(sender: str, rate: float | None) -> None:
    assert sender_rate(sender) == rate


def test_unset_pace_is_the_providers_documented_one() -> None:
    twilio_pace = Limits(twilio.TWILIO_CONCURRENCY, 1.0, by_segment=True)
    assert pace(sms(**TWILIO, sender="+15005550006")) == twilio_pace, "Twilio counts segments"
    assert pace(sms(**TWILIO, sender="+18445550100")) == replace(twilio_pace, rate=3.0)
    assert pace(sms(**INMOBILE)) == Limits(inmobile.INMOBILE_CONCURRENCY, inmobile.INMOBILE_RATE)
    assert pace(email(**SMTP)) == Limits(smtp.SMTP_CONCURRENCY, smtp.SMTP_RATE)
    assert pace(sms(provider="outbox", sender="Acme")) == Limits()


def test_the_configured_pace_overrides_the_providers() -> None:
    config = sms(**TWILIO, sender="+15005550006", concurrency=2, rate_limit=25)
    assert pace(config) == Limits(2, 25, by_segment=True), "still in Twilio's segments"
    assert pace(email(**SMTP, concurrency=10, rate_limit=0.5)) == Limits(10, 0.5)


def test_a_gateway_that_is_not_the_providers_client_gets_no_built_in_rate() -> None:
    config = sms(**TWILIO, sender="+15005550006")
    assert pace(config, built_in=False).rate is None
    assert pace(sms(**TWILIO, sender="+15005550006", rate_limit=5), built_in=False).rate == 5


def test_the_summary_line_of_a_channel_shows_its_pace() -> None:
    channels = ChannelsConfig(sms=sms(**TWILIO, sender="+15005550006"), email=email(**SMTP))
    assert _channel_lines(channels, "") == [
        "sms: twilio, sender +15005550006, 8 at once, 1/s per sender",
        "email: smtp → smtp.example.com:587, 4 at once, no rate limit",
    ]


def outgoing() -> OutgoingMessage:
    return OutgoingMessage("msg-1", Channel.SMS, "+4520123456", "Acme", "Your basket is saved")


def test_a_twilio_429_in_its_documented_shape_is_a_retry_that_carries_the_429() -> None:
    body = {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(429, json=body))
    gateway = TwilioGateway(
        "AC1",
        "t0k",
        from_number="+15005550006",
        messaging_service_sid=None,
        status_callback_url=None,
        clock=FakeClock(),
        transport=transport,
    )

    result = gateway.send(outgoing())

    assert result.status == SendStatus.RETRY
    assert result.http_status == 429, "the dispatcher tells the pacer from the HTTP status"
    assert result.error_code == str(twilio.ERROR_TOO_MANY_REQUESTS)


def test_an_inmobile_429_is_a_retry_that_carries_the_429() -> None:
    body = {"errorMessage": "Too many requests", "details": []}
    transport = httpx.MockTransport(lambda request: httpx.Response(429, json=body))
    gateway = InMobileGateway(
        "k3y", status_callback_url=None, clock=FakeClock(), transport=transport
    )

    result = gateway.send(outgoing())

    assert result.status == SendStatus.RETRY
    assert result.http_status == 429
    assert result.error is not None and "Too many requests" in result.error
