"""YAML config → validated settings.

`load_config` reads the file with the line of every key, substitutes `${VAR}` and
`${VAR:-default}` from the environment, and validates with the pydantic models below.
Every problem becomes a `ConfigError` naming the file, the line and the key path, e.g.
`cartback.yaml:14: flows[0].abandon_after: '30x' is not a duration (write e.g. 90s, 30m, 2h, 3d)`.
"""

from __future__ import annotations

import difflib
import os
import re
import typing
from collections.abc import Mapping, Sequence
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from cartback._yaml import KeyPath, YamlError, format_key, line_of, read_yaml, substitute_env
from cartback.domain.events import Channel
from cartback.domain.flow import Flow, SendStep, Step, WaitStep

DATABASE_URL_ENV = "CARTBACK_DATABASE_URL"


class Problem(NamedTuple):
    file: str
    line: int
    key: str  # e.g. "flows[0].abandon_after"; "" for the document as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key + ': ' if self.key else ''}{self.message}"


class ConfigError(Exception):
    """The config can't be used; each problem names the file, line and key."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = tuple(problems)

    @property
    def line(self) -> int:
        return self.problems[0].line

    @property
    def key(self) -> str:
        return self.problems[0].key


class _KeyedError(ValueError):
    """A validator's complaint about a key below the model it validates."""

    def __init__(self, message: str, *at: str | int) -> None:
        super().__init__(message)
        self.at = at


_DURATION_HINT = "(write e.g. 90s, 30m, 2h, 3d)"
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def parse_duration(text: str) -> timedelta:
    """Read `90s`, `30m`, `2h`, `3d` or a combination in that order such as `1h30m`."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration {_DURATION_HINT}")
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _duration(value: object) -> object:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"{value!r} is not a duration {_DURATION_HINT}")


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


def _exact_decimal(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    return Decimal(str(value)) if isinstance(value, float) else value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _matching(pattern: str, what: str) -> AfterValidator:
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known time zone (e.g. Europe/Copenhagen)") from None
    return value


def _known_region(value: str) -> str:
    if not any(value in regions for regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.values()):
        raise ValueError(f"{value!r} is not a country code that phone numbers use")
    return value


def _clock_time(value: object) -> object:
    if isinstance(value, time):
        return value
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'{value!r} is not a time of day (write HH:MM, e.g. "21:00")')
    return time(int(match[1]), int(match[2]))


Duration = Annotated[timedelta, BeforeValidator(_duration)]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
NonEmptyStr = Annotated[str, AfterValidator(_non_empty)]
Slug = Annotated[str, _matching(r"[a-z0-9][a-z0-9_-]*", "an id (use a-z, 0-9, '-' and '_')")]
CountryCode = Annotated[
    str, _matching(r"[A-Z]{2}", "a country code (e.g. DK)"), AfterValidator(_known_region)
]
CurrencyCode = Annotated[str, _matching(r"[A-Z]{3}", "a currency code (e.g. DKK)")]
TimeZone = Annotated[str, AfterValidator(_known_zone)]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]
Amount = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0)]
Secret = Annotated[str | None, Field(repr=False)]


class _Model(BaseModel):
    # Numbers become text where text is expected: `sender: 4512345678`, `webhook_secret: 1234`.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


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
    insecure: bool = False  # generic, magento webhooks: accept unsigned (trusted network only)
    webhook_public_key: str | None = None  # magento: Adobe Commerce's webhook signing key (PEM)

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


class StepConfig(_Model):
    """One flow step: either `wait: <duration>` or `send: <channel>` (+ optional template)."""

    wait: Duration | None = None
    send: Channel | None = None
    template: str | None = None
    subject: str | None = None  # email
    html_template: str | None = None  # email; default: the built-in basket email
    title: str | None = None  # rcs card
    image_url: str | None = None  # rcs card
    button: str | None = None  # rcs card: the button's text; it opens the basket link
    fallback: Channel | None = None  # rcs: the channel used where rcs does not reach

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.wait is None) == (self.send is None):
            raise ValueError("a step needs exactly one of `wait: <duration>` or `send: <channel>`")
        for key in ("template", "subject", "html_template", "title", "image_url", "button"):
            if getattr(self, key) is not None and self.send is None:
                raise _KeyedError(f"only a `send` step has a {key}", key)
        if self.fallback is not None and self.send != Channel.RCS:
            raise _KeyedError("only an rcs step has a fallback", "fallback")
        if self.fallback not in (None, Channel.SMS):
            raise _KeyedError("rcs falls back to sms only", "fallback")
        return self

    def to_domain(self) -> Step:
        if self.wait is not None:
            return WaitStep(duration=self.wait)
        assert self.send is not None
        return SendStep(
            channel=self.send,
            template=self.template,
            subject=self.subject,
            html_template=self.html_template,
            title=self.title,
            image_url=self.image_url,
            button=self.button,
            fallback=self.fallback,
        )


class FlowConfig(_Model):
    id: Slug
    store: Slug
    abandon_after: Duration
    steps: list[StepConfig] = Field(min_length=1)

    def to_domain(self) -> Flow:
        steps = tuple(step.to_domain() for step in self.steps)
        return Flow(id=self.id, store_id=self.store, abandon_after=self.abandon_after, steps=steps)


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

    @model_validator(mode="before")
    @classmethod
    def _empty_sections_mean_defaults(cls, data: Any) -> Any:
        sections = ("channels", "policy", "attribution", "worker", "flows")
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
        return self

    def store(self, store_id: str) -> StoreConfig | None:
        return next((store for store in self.stores if store.id == store_id), None)

    def store_by_shop_domain(self, domain: str) -> StoreConfig | None:
        wanted = domain.strip().lower()
        return next((s for s in self.stores if (s.shop_domain or "").lower() == wanted), None)

    def domain_flows(self) -> list[Flow]:
        return [flow.to_domain() for flow in self.flows]

    def flows_for_store(self, store_id: str) -> list[Flow]:
        return [flow.to_domain() for flow in self.flows if flow.store == store_id]


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


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, substitute and validate a config file; raise `ConfigError` on any problem."""
    environ = os.environ if environ is None else environ
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([Problem(file, 1, "", f"cannot read the config file: {error}")]) from None
    try:
        data, lines = read_yaml(text)
        if not isinstance(data, dict):
            found = "nothing" if data is None else f"a {type(data).__name__}"
            raise YamlError(lines[()], f"expected a mapping of keys, found {found}")
        data = substitute_env(data, environ, lines)
    except YamlError as error:
        raise ConfigError(
            [Problem(file, error.line, format_key(error.path), error.message)]
        ) from None
    override = environ.get(DATABASE_URL_ENV)
    if override:
        data["database_url"] = override
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        problems = [_problem(e, lines, file) for e in error.errors()]
        if override:
            note = f" (from {DATABASE_URL_ENV})"
            problems = [
                p._replace(message=p.message + note * (p.key == "database_url")) for p in problems
            ]
        raise ConfigError(sorted(problems, key=lambda p: p.line)) from None


def _problem(error: Any, lines: Mapping[KeyPath, int], file: str) -> Problem:
    loc = tuple(error["loc"])
    exception = error.get("ctx", {}).get("error")
    if isinstance(exception, _KeyedError):
        loc += exception.at
    if error["type"] == "missing":
        line, message = line_of(loc[:-1], lines), "required key is missing"
    elif error["type"] == "extra_forbidden":
        line, message = line_of(loc, lines), _unknown_key(loc)
    else:
        line, message = line_of(loc, lines), _describe(error, exception, loc)
    return Problem(file, line, format_key(loc), message)


def _describe(error: Any, exception: object, loc: KeyPath) -> str:
    if isinstance(exception, Exception):
        return str(exception)
    message = str(error["msg"])
    value = error.get("input")
    hidden = any(word in str(loc[-1:]) for word in ("secret", "token", "password", "key"))
    if not hidden and (value is None or isinstance(value, str | int)):
        message += f" (got {value!r})"
    elif not hidden and isinstance(value, Decimal):
        message += f" (got {value})"
    return message


def _unknown_key(loc: KeyPath) -> str:
    message = "unknown key"
    model = _model_at(loc[:-1])
    if model is not None:
        known = [field.alias or name for name, field in model.model_fields.items()]
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        message += f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
    return message


def _model_at(loc: KeyPath) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Settings
    for part in loc:
        if isinstance(part, str):
            field = model.model_fields.get(part) if model is not None else None
            model = _model_in(field.annotation) if field is not None else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if typing.get_origin(annotation) is None and isinstance(annotation, type):
        return annotation if issubclass(annotation, BaseModel) else None
    return next(filter(None, map(_model_in, typing.get_args(annotation))), None)
