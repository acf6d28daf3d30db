"""The config's models: what a valid cartback.yaml holds, validated with pydantic."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from cartback.config.base import (
    Amount,
    ClockTime,
    CountryCode,
    CurrencyCode,
    Duration,
    NonEmptyStr,
    PositiveDuration,
    Secret,
    Slug,
    TimeZone,
    _KeyedError,
    _Model,
)
from cartback.config.experiments import Language
from cartback.config.flows import FlowConfig, SegmentBook, segment_problem
from cartback.domain.events import Channel
from cartback.domain.flow import Flow
from cartback.domain.opt_out import ANY_COUNTRY, merged_opt_out
from cartback.domain.segments import SegmentError
from cartback.domain.sending_windows import SendingWindow

DATABASE_URL_ENV = "CARTBACK_DATABASE_URL"


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class SendingWindowConfig(_Model):
    """Local times a message may go out, on the given weekdays (default: every day)."""

    start: ClockTime
    end: ClockTime
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)

    def to_domain(self) -> SendingWindow:
        return SendingWindow(self.start, self.end, frozenset(WEEKDAYS.index(d) for d in self.days))


class ConsentMetaKeys(_Model):
    sms: str = "_sms_marketing_consent"
    email: str = "_email_marketing_consent"


class StoreConfig(_Model):
    id: Slug
    platform: Literal["shopify", "woocommerce", "magento", "generic"]
    name: NonEmptyStr
    shop_domain: str | None = None
    webhook_secret: SecretStr | None = None
    timezone: TimeZone = "UTC"
    default_country: CountryCode | None = None  # for phone numbers written without +CC
    currency: CurrencyCode | None = None
    # WooCommerce: which order meta_data keys carry marketing consent.
    consent_meta_keys: ConsentMetaKeys = Field(default_factory=lambda: ConsentMetaKeys())
    # WooCommerce (non-pending orders), Magento, generic: the link back to the basket, with
    # {cart_id}, {cart_key}, {order_key} and {email} filled in where the platform gives them.
    recovery_url_template: str | None = None
    base_url: str | None = None  # Magento: https://shop.example/rest (the REST API root)
    access_token: Secret = None  # Magento: integration access token
    poll_every: PositiveDuration = timedelta(minutes=1)  # Magento
    consent_mode: Literal["strict", "soft_opt_in"] = "strict"  # soft: email to past buyers
    # Per recipient country ("US") or US state ("US-FL"): replaces the built-in legal window.
    sending_windows: dict[str, SendingWindowConfig] = Field(default_factory=dict)
    insecure: bool = False  # generic, magento webhooks: accept unsigned (trusted network only)
    webhook_public_key: str | None = None  # magento: Adobe Commerce's webhook signing key (PEM)
    locale: Language | None = None  # the shop's language (da, en, …) when the cart has none
    support_email: str | None = None  # named in the answer to a HELP reply
    support_phone: str | None = None

    @model_validator(mode="after")
    def _platform_requirements(self) -> Self:
        secret = self.webhook_secret is not None and bool(self.webhook_secret.get_secret_value())
        if self.platform == "shopify" and not self.shop_domain:
            raise _KeyedError("required for a shopify store", "shop_domain")
        if self.platform in ("shopify", "woocommerce") and not secret:
            raise _KeyedError(f"required for a {self.platform} store", "webhook_secret")
        if self.platform == "generic" and not secret and not self.insecure:
            raise _KeyedError(
                "required for a generic store (or set insecure: true to accept unsigned webhooks)",
                "webhook_secret",
            )
        if self.platform == "magento":
            for key in ("base_url", "access_token"):
                if not getattr(self, key):
                    raise _KeyedError("required for a magento store", key)
        return self


class SmsChannelConfig(_Model):
    provider: Literal["outbox", "inmobile", "twilio"]
    sender: NonEmptyStr
    path: str = "outbox.jsonl"  # outbox: one JSON object per line
    cost_per_segment: Amount = Decimal("0")  # in the store's currency
    api_key: Secret = None
    account_sid: str | None = None
    auth_token: Secret = None
    messaging_service_sid: str | None = None
    base_url: str | None = None  # the vendor's API root; set it for a proxy or a test fake
    transliterate: bool = False  # replace curly quotes, long dashes, ... to stay in GSM-7
    max_attempts: int = Field(default=5, ge=1, le=20)
    retry_backoff: PositiveDuration = timedelta(seconds=30)  # doubled each attempt, with jitter
    timeout: PositiveDuration = timedelta(seconds=10)
    inbound_poll_every: PositiveDuration = timedelta(seconds=30)  # inMobile replies

    @model_validator(mode="after")
    def _provider_requirements(self) -> Self:
        needed = {"inmobile": ("api_key",), "twilio": ("account_sid", "auth_token")}
        for key in needed.get(self.provider, ()):
            if not getattr(self, key):
                raise _KeyedError(f"required for the {self.provider} provider", key)
        return self


class EmailChannelConfig(_Model):
    model_config = ConfigDict(populate_by_name=True)

    provider: Literal["smtp", "outbox"] = "outbox"
    path: str = "outbox.jsonl"
    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    password: Secret = None
    from_address: str | None = Field(default=None, alias="from")
    unsubscribe_mailto: str | None = None  # List-Unsubscribe mailto address; default: from
    max_attempts: int = Field(default=5, ge=1, le=20)
    retry_backoff: PositiveDuration = timedelta(seconds=30)
    timeout: PositiveDuration = timedelta(seconds=20)

    @model_validator(mode="after")
    def _smtp_needs_host_and_sender(self) -> Self:
        if self.provider == "smtp":
            if not self.host:
                raise _KeyedError("required for the smtp provider", "host")
            if not self.from_address:
                raise _KeyedError("required for the smtp provider", "from")
        return self


class ChannelsConfig(_Model):
    sms: SmsChannelConfig | None = None
    email: EmailChannelConfig | None = None


class QuietHoursConfig(_Model):
    """No sends from `start` until `end` in the recipient's local time (may span midnight)."""

    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise _KeyedError(
                "equals start; to turn quiet hours off write quiet_hours: null", "end"
            )
        return self


class PolicyConfig(_Model):
    quiet_hours: QuietHoursConfig | None = QuietHoursConfig(start=time(21), end=time(9))
    cooldown: Duration = timedelta(hours=72)
    cooldowns: dict[Channel, Duration] = Field(default_factory=dict)  # per channel, over `cooldown`
    recent_purchase: Duration = timedelta(hours=24)
    max_sms_per_abandonment: int = Field(default=1, ge=0, le=10)
    sms_deadline: Duration | None = timedelta(hours=48)  # no SMS later than this after abandonment
    # Appended to promotional SMS per recipient country ("*": every other); US and CA have
    # "Reply STOP to opt out." unless set here (null or "" turns one off).
    opt_out_text: dict[str, str | None] = Field(default_factory=dict)

    @field_validator("opt_out_text")
    @classmethod
    def _countries(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        for country in value:
            if country != ANY_COUNTRY and not (len(country) == 2 and country.isupper()):
                raise _KeyedError(f"{country!r} is not a country code (e.g. US) or *", country)
        return value

    def opt_out_texts(self) -> dict[str, str]:
        """Country (or `*`) → the text appended to promotional SMS, defaults included."""
        return merged_opt_out(self.opt_out_text)

    def cooldown_for(self, channel: Channel) -> timedelta:
        sms_like = Channel.SMS if channel == Channel.RCS else channel
        return self.cooldowns.get(sms_like, self.cooldown)


class AttributionConfig(_Model):
    click_window: Duration = timedelta(days=5)
    send_window: Duration = timedelta(hours=24)


class WorkerConfig(_Model):
    poll_interval: PositiveDuration = timedelta(seconds=1)
    batch_size: int = Field(default=100, ge=1, le=10_000)
    lease: PositiveDuration = timedelta(minutes=5)


class Settings(_Model):
    database_url: str = "sqlite:///cartback.db"
    public_url: str = "http://localhost:8000"
    api_token: Annotated[NonEmptyStr, Field(repr=False)]
    stores: list[StoreConfig] = Field(min_length=1)
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    attribution: AttributionConfig = Field(default_factory=AttributionConfig)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    flows: list[FlowConfig] = Field(default_factory=list)
    segments: dict[str, Any] = Field(default_factory=dict)
    _flows: list[Flow] = PrivateAttr(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections_mean_defaults(cls, data: Any) -> Any:
        sections = ("channels", "policy", "attribution", "worker", "flows", "segments")
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (k in sections and v is None)}
        return data

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(
                f"{value!r} is not a database URL "
                "(write e.g. sqlite:///cartback.db or postgresql+psycopg://user@host/db)"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"{value!r} is not an http(s) URL (write e.g. https://cart.example.com)"
            )
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _references(self) -> Self:
        _unique([s.id for s in self.stores], "stores", "id", "store id")
        domains = [(s.shop_domain or "").lower() or None for s in self.stores]
        _unique(domains, "stores", "shop_domain", "shop_domain")
        known = [store.id for store in self.stores]
        for index, flow in enumerate(self.flows):
            if flow.store not in known:
                raise _KeyedError(
                    f"flow {flow.id!r} names store {flow.store!r}, which is not configured "
                    f"(stores: {', '.join(known)})",
                    *("flows", index, "store"),
                )
        _unique([f.id for f in self.flows], "flows", "id", "flow id")
        try:
            book = SegmentBook(self.segments)
            self._flows = [flow.to_domain(book, n) for n, flow in enumerate(self.flows)]
        except SegmentError as exc:
            raise segment_problem(exc) from None
        _unique_experiments(self._flows)
        return self

    def store(self, store_id: str) -> StoreConfig | None:
        return next((store for store in self.stores if store.id == store_id), None)

    def store_by_shop_domain(self, domain: str) -> StoreConfig | None:
        wanted = domain.strip().lower()
        return next((s for s in self.stores if (s.shop_domain or "").lower() == wanted), None)

    def domain_flows(self) -> list[Flow]:
        return list(self._flows)

    def flows_for_store(self, store_id: str) -> list[Flow]:
        """The store's flows, highest priority first (equal ones in file order)."""
        mine = [flow for flow in self._flows if flow.store_id == store_id]
        return sorted(mine, key=lambda flow: -flow.priority)


def _unique(values: Sequence[str | None], section: str, field: str, what: str) -> None:
    first_index: dict[str, int] = {}
    for index, value in enumerate(values):
        if value is None:
            continue
        if value in first_index:
            raise _KeyedError(
                f"duplicate {what} {value!r} (already used by {section}[{first_index[value]}])",
                *(section, index, field),
            )
        first_index[value] = index


def _unique_experiments(flows: Sequence[Flow]) -> None:
    """One report per experiment id: two experiments may not share one."""
    first: dict[str, str] = {}
    for index, flow in enumerate(flows):
        for experiment in flow.experiments:
            if experiment.id in first:
                raise _KeyedError(
                    f"experiment id {experiment.id!r} is already used by {first[experiment.id]}",
                    *("flows", index, "id"),
                )
            first[experiment.id] = f"flow {flow.id}"
