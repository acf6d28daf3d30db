"""Channel config: one model per provider, told apart by `provider:` (a discriminated union).

Each provider's model requires the keys that provider cannot work without (inMobile's `api_key`,
Twilio's `account_sid` and `auth_token`, SMTP's `host` and `from`), so the code that builds a
gateway never has to ask whether they are there. Keys every provider shares live in the base.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag

from cartback.config.base import Amount, NonEmptyStr, PositiveDuration, _Model

__all__ = [
    "PROVIDERS",
    "ChannelsConfig",
    "EmailChannelConfig",
    "InMobileSms",
    "OutboxEmail",
    "OutboxSms",
    "SmsChannelConfig",
    "SmtpEmail",
    "TwilioSms",
    "provider_model",
]

_RequiredSecret = Annotated[NonEmptyStr, Field(repr=False)]


class _Sms(_Model):
    sender: NonEmptyStr
    path: str = "outbox.jsonl"  # outbox: one JSON object per line
    cost_per_segment: Amount = Decimal("0")  # in the store's currency
    base_url: str | None = None  # the vendor's API root; set it for a proxy or a test fake
    transliterate: bool = False  # replace curly quotes, long dashes, ... to stay in GSM-7
    max_attempts: int = Field(default=5, ge=1, le=20)
    retry_backoff: PositiveDuration = timedelta(seconds=30)  # doubled each attempt, with jitter
    timeout: PositiveDuration = timedelta(seconds=10)
    inbound_poll_every: PositiveDuration = timedelta(seconds=30)  # inMobile replies
    # Calls in flight to the gateway, and messages/s per sender. Unset: the provider's documented
    # pace (beside each provider's client in channels/; `cartback check` shows the one in use).
    concurrency: int | None = Field(default=None, ge=1, le=256)
    rate_limit: float | None = Field(default=None, gt=0)


class OutboxSms(_Sms):
    provider: Literal["outbox"]


class InMobileSms(_Sms):
    provider: Literal["inmobile"]
    api_key: _RequiredSecret


class TwilioSms(_Sms):
    provider: Literal["twilio"]
    account_sid: NonEmptyStr
    auth_token: _RequiredSecret
    messaging_service_sid: str | None = None


class _Email(_Model):
    model_config = ConfigDict(populate_by_name=True)

    path: str = "outbox.jsonl"
    from_address: str | None = Field(default=None, alias="from")
    unsubscribe_mailto: str | None = None  # List-Unsubscribe mailto address; default: from
    max_attempts: int = Field(default=5, ge=1, le=20)
    retry_backoff: PositiveDuration = timedelta(seconds=30)
    timeout: PositiveDuration = timedelta(seconds=20)
    concurrency: int | None = Field(default=None, ge=1, le=256)  # connections; unset: 4
    rate_limit: float | None = Field(default=None, gt=0)  # messages/s; unset: no limit


class OutboxEmail(_Email):
    provider: Literal["outbox"] = "outbox"


class SmtpEmail(_Email):
    provider: Literal["smtp"]
    from_address: NonEmptyStr = Field(alias="from")
    host: NonEmptyStr
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    password: Annotated[str | None, Field(repr=False)] = None
    # Emails on one connection before another is opened; unset: 100 (channels/smtp.py).
    messages_per_connection: int | None = Field(default=None, ge=1, le=100_000)


def _provider(default: str | None) -> Any:
    def tag(value: Any) -> str | None:
        found = (
            value.get("provider") if isinstance(value, dict) else getattr(value, "provider", None)
        )
        return default if found is None else found if isinstance(found, str) else None

    return Discriminator(tag)


SmsChannelConfig = Annotated[
    Annotated[OutboxSms, Tag("outbox")]
    | Annotated[InMobileSms, Tag("inmobile")]
    | Annotated[TwilioSms, Tag("twilio")],
    _provider(None),
]
EmailChannelConfig = Annotated[
    Annotated[OutboxEmail, Tag("outbox")] | Annotated[SmtpEmail, Tag("smtp")],
    _provider("outbox"),
]


_MODELS: dict[str, dict[str, type[_Model]]] = {
    "sms": {"outbox": OutboxSms, "inmobile": InMobileSms, "twilio": TwilioSms},
    "email": {"outbox": OutboxEmail, "smtp": SmtpEmail},
}
PROVIDERS: dict[str, tuple[str, ...]] = {channel: (*models,) for channel, models in _MODELS.items()}


def provider_model(channel: str, provider: str) -> type[_Model] | None:
    """The model of one channel's provider, e.g. ("sms", "twilio") → TwilioSms."""
    return _MODELS.get(channel, {}).get(provider)


class ChannelsConfig(_Model):
    sms: SmsChannelConfig | None = None
    email: EmailChannelConfig | None = None
