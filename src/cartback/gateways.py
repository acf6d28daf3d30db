"""The gateways of the configured channels: one per account, shared by the stores that use it.

Part of the composition root (`runtime.py`): the global channels' gateways, and a store's own
where its channels differ in what a gateway is built from (`tenants.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.utils import parseaddr

import httpx

from cartback.channels import inmobile, smtp, twilio
from cartback.channels.base import Gateway, InboundSource
from cartback.channels.inmobile import InMobileGateway
from cartback.channels.outbox import OutboxGateway
from cartback.channels.smtp import SmtpGateway
from cartback.channels.twilio import TwilioGateway
from cartback.clock import Clock
from cartback.config import EmailChannelConfig, Settings, SmsChannelConfig
from cartback.config.channels import (
    ChannelsConfig,
    InMobileSms,
    OutboxEmail,
    OutboxSms,
    SmtpEmail,
    TwilioSms,
)
from cartback.domain.events import Channel
from cartback.domain.signing import Signing
from cartback.engine.dispatch import ChannelSetup
from cartback.engine.pacing import Limits
from cartback.engine.retry import RetryPolicy


@dataclass
class Gateways:
    by_channel: dict[Channel, Gateway] = field(default_factory=dict)
    inbound: list[InboundSource] = field(default_factory=list)
    inmobile: InMobileGateway | None = None
    twilio: TwilioGateway | None = None
    # Every Twilio account that sends (the global one, stores' own): its callbacks are signed
    # with its auth token.
    twilio_accounts: list[tuple[TwilioGateway, str]] = field(default_factory=list)
    # Stores' own gateways (tenants.py), closed with these.
    more: list[Gateway] = field(default_factory=list)

    def close(self, keep: Gateways | None = None) -> None:
        """Close what a gateway holds open (SMTP connections, HTTP clients), once each; those
        `keep` holds too stay open (a reloaded config may go on with the same gateway)."""
        kept = {id(gateway) for gateway in keep._all()} if keep is not None else set()
        every = {id(gateway): gateway for gateway in self._all() if id(gateway) not in kept}
        for gateway in every.values():
            close = getattr(gateway, "close", None)
            if callable(close):
                close()

    def _all(self) -> list[Gateway]:
        return [*self.by_channel.values(), *self.more]


def pace(config: SmsChannelConfig | EmailChannelConfig, *, built_in: bool = True) -> Limits:
    """A channel's calls in flight and messages/s per sender: what its config sets, else its
    provider's documented defaults (named beside each provider's client; `built_in=False`:
    no rate but a configured one)."""
    limits = _provider_pace(config)
    rate = limits.rate if built_in else None
    return replace(
        limits,
        concurrency=config.concurrency or limits.concurrency,
        rate=config.rate_limit if config.rate_limit is not None else rate,
    )


def _provider_pace(config: SmsChannelConfig | EmailChannelConfig) -> Limits:
    if isinstance(config, InMobileSms):
        return Limits(inmobile.INMOBILE_CONCURRENCY, inmobile.INMOBILE_RATE)
    if isinstance(config, TwilioSms):  # Twilio's pace counts segments (twilio.py)
        return Limits(twilio.TWILIO_CONCURRENCY, twilio.sender_rate(config.sender), True)
    if isinstance(config, SmtpEmail):
        return Limits(smtp.SMTP_CONCURRENCY, smtp.SMTP_RATE)
    return Limits()  # the outbox: a local file


def build_gateways(
    settings: Settings,
    clock: Clock,
    *,
    echo: bool = False,
    transport: httpx.BaseTransport | None = None,
    channels: ChannelsConfig | None = None,
    outboxes: dict[str, OutboxGateway] | None = None,
    signing: Signing,
) -> Gateways:
    """`transport` replaces the network for the HTTP gateways (tests, a local fake);
    `channels`: a store's own instead of the global ones; `outboxes`: the writers by file,
    shared by every store."""
    built = Gateways()
    channels = channels or settings.channels
    outboxes = {} if outboxes is None else outboxes
    if channels.sms is not None:
        _add_sms(built, settings, channels.sms, clock, echo, outboxes, transport, signing)
    if channels.email is not None:
        built.by_channel[Channel.EMAIL] = _email(channels.email, clock, echo, outboxes)
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
    signing: Signing,
) -> None:
    timeout = config.timeout.total_seconds()
    if isinstance(config, OutboxSms):
        built.by_channel[Channel.SMS] = _outbox(config.path, clock, echo, outboxes)
    elif isinstance(config, InMobileSms):
        key = signing.callback_key()
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
        built.twilio_accounts.append((twilio, config.auth_token))


def _email(
    config: EmailChannelConfig, clock: Clock, echo: bool, outboxes: dict[str, OutboxGateway]
) -> Gateway:
    if isinstance(config, OutboxEmail):
        return _outbox(config.path, clock, echo, outboxes)
    return SmtpGateway(
        config.host,
        config.port,
        security=config.security,
        username=config.username,
        password=config.password,
        from_address=config.from_address,
        clock=clock,
        timeout=config.timeout.total_seconds(),
        connections=pace(config).concurrency,
        messages_per_connection=config.messages_per_connection or smtp.MESSAGES_PER_CONNECTION,
    )


def channel_setups(
    channels: ChannelsConfig, gateways: Mapping[Channel, Gateway]
) -> dict[Channel, ChannelSetup]:
    setups: dict[Channel, ChannelSetup] = {}
    sms, email = channels.sms, channels.email
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
