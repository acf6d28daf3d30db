"""Building the configured gateways: which provider carries SMS, RCS and email."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from email.utils import parseaddr

import httpx

from cartback.channels.base import Gateway, InboundSource
from cartback.channels.inmobile import InMobileGateway
from cartback.channels.outbox import OutboxGateway
from cartback.channels.smtp import SmtpGateway
from cartback.channels.twilio import TwilioGateway
from cartback.clock import Clock
from cartback.config import EmailChannelConfig, Settings, SmsChannelConfig
from cartback.domain.events import Channel
from cartback.engine.retry import RetryPolicy
from cartback.engine.sender import ChannelSetup


@dataclass
class Gateways:
    by_channel: dict[Channel, Gateway] = field(default_factory=dict)
    inbound: list[InboundSource] = field(default_factory=list)
    inmobile: InMobileGateway | None = None
    twilio: TwilioGateway | None = None


def callback_key(api_token: str) -> str:
    """The secret in inMobile's status callback URL (inMobile does not sign its callbacks)."""
    return hmac.new(api_token.encode(), b"cartback inmobile callback", hashlib.sha256).hexdigest()[
        :32
    ]


def build_gateways(
    settings: Settings,
    clock: Clock,
    *,
    echo: bool = False,
    transport: httpx.BaseTransport | None = None,
) -> Gateways:
    """`transport` replaces the network for the HTTP gateways (tests, a local fake)."""
    built = Gateways()
    outboxes: dict[str, OutboxGateway] = {}
    if settings.channels.sms is not None:
        _add_sms(built, settings, settings.channels.sms, clock, echo, outboxes, transport)
    if settings.channels.email is not None:
        built.by_channel[Channel.EMAIL] = _email(settings.channels.email, clock, echo, outboxes)
    return built


def _outbox(
    path: str, clock: Clock, echo: bool, outboxes: dict[str, OutboxGateway]
) -> OutboxGateway:
    if path not in outboxes:  # sms and email may share one file; one writer per file
        outboxes[path] = OutboxGateway(path, clock, echo=echo)
    return outboxes[path]


def _add_sms(
    built: Gateways,
    settings: Settings,
    config: SmsChannelConfig,
    clock: Clock,
    echo: bool,
    outboxes: dict[str, OutboxGateway],
    transport: httpx.BaseTransport | None,
) -> None:
    timeout = config.timeout.total_seconds()
    if config.provider == "outbox":
        built.by_channel[Channel.SMS] = _outbox(config.path, clock, echo, outboxes)
    elif config.provider == "inmobile":
        assert config.api_key is not None
        key = callback_key(settings.api_token)
        gateway = InMobileGateway(
            config.api_key,
            base_url=config.base_url or "https://api.inmobile.com",
            status_callback_url=f"{settings.public_url}/webhooks/inmobile/status?key={key}",
            clock=clock,
            timeout=timeout,
            transport=transport,
        )
        built.by_channel[Channel.SMS] = gateway
        built.inbound.append(gateway)
        built.inmobile = gateway
    else:
        assert config.account_sid is not None and config.auth_token is not None
        twilio = TwilioGateway(
            config.account_sid,
            config.auth_token,
            from_number=config.sender if config.sender.startswith("+") else None,
            messaging_service_sid=config.messaging_service_sid,
            base_url=config.base_url or "https://api.twilio.com",
            status_callback_url=f"{settings.public_url}/webhooks/twilio/status",
            clock=clock,
            timeout=timeout,
            transport=transport,
        )
        built.by_channel[Channel.SMS] = twilio
        if twilio.supports_rcs:
            built.by_channel[Channel.RCS] = twilio
        built.twilio = twilio


def _email(
    config: EmailChannelConfig, clock: Clock, echo: bool, outboxes: dict[str, OutboxGateway]
) -> Gateway:
    if config.provider == "outbox":
        return _outbox(config.path, clock, echo, outboxes)
    assert config.host is not None and config.from_address is not None
    return SmtpGateway(
        config.host,
        config.port,
        security=config.security,
        username=config.username,
        password=config.password,
        from_address=config.from_address,
        clock=clock,
        timeout=config.timeout.total_seconds(),
    )


def channel_setups(
    settings: Settings, gateways: dict[Channel, Gateway]
) -> dict[Channel, ChannelSetup]:
    setups: dict[Channel, ChannelSetup] = {}
    sms, email = settings.channels.sms, settings.channels.email
    if sms is not None:
        retry = RetryPolicy(sms.max_attempts, sms.retry_backoff)
        for channel in (Channel.SMS, Channel.RCS):
            if channel in gateways:
                setups[channel] = ChannelSetup(
                    gateways[channel], sms.sender, sms.cost_per_segment, retry
                )
    if email is not None and Channel.EMAIL in gateways:
        retry = RetryPolicy(email.max_attempts, email.retry_backoff)
        name, _address = parseaddr(email.from_address or "")
        # The display name of `from`, if it has one; else each store's own name is used.
        setups[Channel.EMAIL] = ChannelSetup(gateways[Channel.EMAIL], name or None, retry=retry)
    return setups
