"""The platform seam: what one shop platform implements so that the one webhook handler serves it.

A request goes through the same steps for every platform (`api/webhooks.py`):

    store = platform.find_store(request, stores)       # 404 unknown_store
    answer = platform.ping(request)                     # a set-up ping: answered, nothing stored
    verdict = platform.verify(request, store, now)      # 401 bad_signature, nothing stored
    delivery = (platform.topic(request), platform.delivery_key(request), kept headers, body)
    ... stored, then read with platform.parse(stored, store, received_at) ...
    platform.answer(accepted)                           # 200, in the shape the sender expects

A replay reads a stored delivery with the same `parse`, so parsing may only use what is stored:
the body, the topic and the headers named in `kept_headers`. Platforms know nothing of the
config package: they read a store through the small `ShopStore` protocol below.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from pydantic import SecretStr

from cartback.domain.events import Event
from cartback.errors import UnknownStore
from cartback.integrations._json import json_object

__all__ = [
    "Accepted",
    "Platform",
    "ShopStore",
    "StoreDirectory",
    "StoredDelivery",
    "Verdict",
    "WebhookRequest",
    "header",
    "keyed",
    "secret_of",
]


class ConsentKeys(Protocol):
    @property
    def sms(self) -> str: ...
    @property
    def email(self) -> str: ...


class ShopStore(Protocol):
    """What a platform reads of a configured store (`config.StoreConfig` is one)."""

    @property
    def id(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def shop_domain(self) -> str | None: ...
    @property
    def webhook_secret(self) -> SecretStr | None: ...
    @property
    def insecure(self) -> bool: ...
    @property
    def webhook_public_key(self) -> str | None: ...
    @property
    def default_country(self) -> str | None: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def recovery_url_template(self) -> str | None: ...
    @property
    def consent_meta_keys(self) -> ConsentKeys: ...
    @property
    def base_url(self) -> str | None: ...
    @property
    def access_token(self) -> str | None: ...


class StoreDirectory(Protocol):
    """Where stores are looked up (`config.Settings` is one)."""

    def store(self, store_id: str) -> ShopStore | None: ...
    def store_by_shop_domain(self, domain: str) -> ShopStore | None: ...


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case; None when absent. The lower-case name is looked up
    first (ASGI gives names so, and a platform reads several of every webhook's)."""
    wanted = name.lower()
    found = headers.get(wanted)
    if found is not None:
        return found
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """The parts of an HTTP request a platform looks at."""

    body: bytes
    headers: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    store_id: str | None = None  # the route's `{store_id}`, where it has one

    def header(self, name: str) -> str | None:
        return header(self.headers, name)


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A delivery as stored: what `parse` may read, now or in a replay."""

    topic: str | None
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return header(self.headers, name)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a request is authentic; `reason` says why not, for the 401 answer."""

    ok: bool
    reason: str = ""

    @classmethod
    def accept(cls) -> Verdict:
        return cls(True)

    @classmethod
    def refuse(cls, reason: str) -> Verdict:
        return cls(False, reason)


@dataclass(frozen=True, slots=True)
class Accepted:
    """What became of a delivery, for the answer: `received` (stored, to be applied) or
    `duplicate` (stored before)."""

    status: str
    delivery_id: int


class Platform(ABC):
    """One shop platform's webhook: where it arrives, how it is checked, stored and read."""

    name: ClassVar[str]  # the registry's key, e.g. "shopify"
    path: ClassVar[str]  # the webhook route, e.g. "/webhooks/woocommerce/{store_id}"
    store_platform: ClassVar[str] = ""  # the config's `platform:` it serves; "" means `name`
    kept_headers: ClassVar[tuple[str, ...]] = ()  # stored with the body (Content-Type always)
    fixed_topic: ClassVar[str | None] = None  # the topic of every delivery, where there is one
    route_name: ClassVar[str] = ""  # names the route and its OpenAPI operation; "" gives name
    summary: ClassVar[str] = ""
    description: ClassVar[str | None] = None
    responses: ClassVar[dict[int | str, dict[str, Any]]] = {}
    openapi_extra: ClassVar[dict[str, Any] | None] = None
    # Top-level body fields naming what a delivery is about, the first one present wins:
    # (field, kind) gives the sequence key `kind:value` (see `sequence_key`).
    sequence_fields: ClassVar[tuple[tuple[str, str], ...]] = ()

    @property
    def serves(self) -> str:
        """The config `platform:` whose stores this platform's webhooks are for."""
        return self.store_platform or self.name

    def find_store(self, request: WebhookRequest, stores: StoreDirectory) -> ShopStore:
        """The store a request is for: by default the route's `{store_id}`. Raises UnknownStore."""
        store_id = request.store_id or ""
        store = stores.store(store_id)
        if store is None or store.platform != self.serves:
            raise UnknownStore(f"no {self.serves} store {store_id!r} is configured")
        return store

    def config_problem(self, store: ShopStore) -> tuple[str, str] | None:
        """(key, problem) when a store of this platform lacks a setting it needs."""
        return None

    def ping(self, request: WebhookRequest) -> dict[str, object] | None:
        """The answer to a set-up ping, which is answered before any check and never stored."""
        return None

    @abstractmethod
    def verify(self, request: WebhookRequest, store: ShopStore, now: datetime) -> Verdict: ...

    def topic(self, request: WebhookRequest) -> str:
        return self.fixed_topic or ""

    @abstractmethod
    def delivery_key(self, request: WebhookRequest) -> str | None:
        """The key that makes a repeated delivery a duplicate; None when there is none."""

    def sequence_key(self, request: WebhookRequest) -> str | None:
        """What a delivery is about (e.g. `checkout:<token>`), read before the answer: the
        deliveries of a store about the same thing are applied in the order they arrived; None
        orders it among the store's other deliveries without one. Raises PayloadError for a
        body that is not a JSON object at all (answered 400, kept as failed)."""
        body = json_object(request.body)
        for name, kind in self.sequence_fields:
            if (key := keyed(kind, body.get(name))) is not None:
                return key
        return None

    @abstractmethod
    def parse(
        self, delivery: StoredDelivery, store: ShopStore, received_at: datetime
    ) -> list[Event]:
        """The delivery's domain events. Raises PayloadError (a ValueError) naming the field."""

    def answer(self, accepted: Accepted) -> dict[str, object]:
        """The 200 answer's body."""
        return {"status": accepted.status, "delivery_id": accepted.delivery_id}


def keyed(kind: str, value: object) -> str | None:
    """`kind:value` for a sequence key, when `value` is a usable id."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return f"{kind}:{value}"


def secret_of(store: ShopStore) -> str:
    return store.webhook_secret.get_secret_value() if store.webhook_secret is not None else ""
