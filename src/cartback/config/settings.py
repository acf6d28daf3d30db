"""The config's models: what a valid cartback.yaml holds, validated with pydantic."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time, timedelta
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from cartback.config.alerts import AlertsConfig
from cartback.config.base import (
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
from cartback.config.channels import ChannelsConfig, EmailChannelConfig, SmsChannelConfig
from cartback.config.experiments import Language
from cartback.config.flows import FlowConfig, SegmentBook, segment_problem
from cartback.config.operations import MetricsConfig, RetentionConfig
from cartback.config.tenancy import check_tokens, merge_store_channels
from cartback.domain.durations import span
from cartback.domain.events import Channel
from cartback.domain.flow import Flow
from cartback.domain.opt_out import ANY_COUNTRY, merged_opt_out
from cartback.domain.policy import PolicyRules
from cartback.domain.quiet_hours import QuietHours
from cartback.domain.segments import SegmentError
from cartback.domain.sending_windows import SendingWindow
from cartback.integrations.registry import PLATFORMS

DATABASE_URL_ENV = "CARTBACK_DATABASE_URL"

__all__ = [
    "DATABASE_URL_ENV",
    "EmailChannelConfig",
    "Settings",
    "SmsChannelConfig",
    "StoreConfig",
]


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


def _known_platform(value: str) -> str:
    known = PLATFORMS.store_platforms()
    if value not in known:
        raise ValueError(f"{value!r} is not a platform cartback knows (known: {', '.join(known)})")
    return value


# One of `PLATFORMS.store_platforms()`: shopify | woocommerce | generic | magento.
PlatformName = Annotated[str, AfterValidator(_known_platform)]


class StoreConfig(_Model):
    id: Slug
    platform: PlatformName
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
    # Magento: https://shop.example/rest (the REST API root); Shopify: the Admin API root
    # (default https://{shop_domain}), for a proxy or a local fake
    base_url: str | None = None
    access_token: Secret = None  # Magento: integration access token
    poll_every: PositiveDuration = timedelta(minutes=1)  # Magento
    admin_cache_ttl: PositiveDuration = timedelta(hours=1)  # Shopify: customer/product lookups
    consent_mode: Literal["strict", "soft_opt_in"] = "strict"  # soft: email to past buyers
    # Per recipient country ("US") or US state ("US-FL"): replaces the built-in legal window.
    sending_windows: dict[str, SendingWindowConfig] = Field(default_factory=dict)
    insecure: bool = False  # generic, magento webhooks: accept unsigned (trusted network only)
    webhook_public_key: str | None = None  # magento: Adobe Commerce's webhook signing key (PEM)
    locale: Language | None = None  # the shop's language (da, en, …) when the cart has none
    support_email: str | None = None  # named in the answer to a HELP reply
    support_phone: str | None = None
    # An agency's shops: a token that reads and changes only this store, and channel settings
    # over the global ones (see config/tenancy.py).
    api_token: Secret = None
    channels: ChannelsConfig | None = None

    @model_validator(mode="after")
    def _platform_requirements(self) -> Self:
        problem = PLATFORMS.config_problem(self)
        if problem is not None:
            key, message = problem
            raise _KeyedError(message, key)
        return self


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

    def rules(self) -> PolicyRules:
        window = self.quiet_hours
        return PolicyRules(
            cooldown=self.cooldown,
            cooldowns=dict(self.cooldowns),
            quiet_hours=QuietHours(window.start, window.end) if window is not None else None,
            recent_purchase=self.recent_purchase,
            max_sms=self.max_sms_per_abandonment,
            sms_deadline=self.sms_deadline,
        )


class AttributionConfig(_Model):
    click_window: Duration = timedelta(days=5)
    send_window: Duration = timedelta(hours=24)


class WorkerConfig(_Model):
    poll_interval: PositiveDuration = timedelta(seconds=1)
    batch_size: int = Field(default=100, ge=1, le=10_000)
    lease: PositiveDuration = timedelta(minutes=5)
    concurrency: int = Field(default=1, ge=1, le=256)  # claimed runs worked on at once


class Settings(_Model):
    database_url: str = "sqlite:///cartback.db"
    # Threads of one process working on the database at once (store/sql/lanes.py).
    database_lanes: int = Field(default=8, ge=1, le=256)
    public_url: str = "http://localhost:8000"
    api_token: Annotated[NonEmptyStr, Field(repr=False)]
    # Signs unsubscribe links and callback keys; unset: made on first start, kept in the database.
    signing_secret: Annotated[NonEmptyStr | None, Field(repr=False, min_length=16)] = None
    previous_signing_secrets: Annotated[list[NonEmptyStr], Field(repr=False)] = Field(
        default_factory=list
    )
    stores: list[StoreConfig] = Field(min_length=1)
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    attribution: AttributionConfig = Field(default_factory=AttributionConfig)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    flows: list[FlowConfig] = Field(default_factory=list)
    segments: dict[str, Any] = Field(default_factory=dict)
    _flows: list[Flow] = PrivateAttr(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections_mean_defaults(cls, data: Any) -> Any:
        sections = {"channels", "policy", "attribution", "worker", "alerts", "flows", "segments"}
        sections |= {"metrics", "retention"}
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if not (k in sections and v is None)}
        return merge_store_channels(data)

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
        check_tokens(self.api_token, [s.api_token for s in self.stores])
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

    @model_validator(mode="after")
    def _sends_end_within_the_lease(self) -> Self:
        """A send that outlasts its run's lease could be claimed by another worker meanwhile."""
        for name, channel in (("sms", self.channels.sms), ("email", self.channels.email)):
            if channel is not None and channel.timeout >= self.worker.lease:
                raise _KeyedError(
                    f"the {name} timeout ({span(channel.timeout)}) must be shorter than "
                    f"worker.lease ({span(self.worker.lease)}): a send may not outlast its lease",
                    *("channels", name, "timeout"),
                )
        return self

    def store(self, store_id: str) -> StoreConfig | None:
        return next((store for store in self.stores if store.id == store_id), None)

    def channels_of(self, store_id: str) -> ChannelsConfig:
        """The channels a store sends through: its own where it has them, else the global."""
        store = self.store(store_id)
        own = store.channels if store is not None else None
        if own is None:
            return self.channels
        return ChannelsConfig(
            sms=own.sms or self.channels.sms, email=own.email or self.channels.email
        )

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
