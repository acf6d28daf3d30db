"""Every shop platform cartback knows, in one list: the webhook routes, the config's `platform:`
values and the parser of every stored delivery (new, polled or replayed) all come from here.

Adding a platform is one module with a `Platform` subclass (see `platform.py`) and one line in
`PLATFORMS` below.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from urllib.parse import quote

from cartback.domain.bounds import OutOfBounds, check_event, not_after
from cartback.domain.events import CartUpdated, Event
from cartback.integrations._json import PayloadError
from cartback.integrations.generic import GenericPlatform
from cartback.integrations.magento import MagentoPlatform
from cartback.integrations.platform import Platform, ShopStore, StoredDelivery
from cartback.integrations.shopify import ShopifyPlatform
from cartback.integrations.woocommerce import WooCommercePlatform
from cartback.integrations.woocommerce_cart_recovery import CartRecoveryPlatform

__all__ = ["PLATFORMS", "Parser", "Registry", "parser_for"]

log = logging.getLogger("cartback.ingest")

Parser = Callable[[bytes, datetime], list[Event]]


class Registry:
    """Platforms by name, in the order they were registered."""

    def __init__(self, platforms: Iterable[Platform] = ()) -> None:
        self._platforms: dict[str, Platform] = {}
        for platform in platforms:
            self.register(platform)

    def register(self, platform: Platform) -> None:
        if platform.name in self._platforms:
            raise ValueError(f"a platform named {platform.name!r} is already registered")
        if any(known.path == platform.path for known in self):
            raise ValueError(f"another platform already serves {platform.path}")
        self._platforms[platform.name] = platform

    def unregister(self, name: str) -> None:
        self._platforms.pop(name, None)

    @contextmanager
    def registered(self, platform: Platform) -> Iterator[Platform]:
        """`platform` registered for the duration of a `with` block (tests, experiments)."""
        self.register(platform)
        try:
            yield platform
        finally:
            self.unregister(platform.name)

    def __iter__(self) -> Iterator[Platform]:
        return iter(list(self._platforms.values()))

    def get(self, name: str) -> Platform | None:
        return self._platforms.get(name)

    def store_platforms(self) -> tuple[str, ...]:
        """The values a store's `platform:` may take, in registration order."""
        return tuple(dict.fromkeys(platform.serves for platform in self))

    def config_problem(self, store: ShopStore) -> tuple[str, str] | None:
        """(key, problem) when a store lacks a setting its platform needs."""
        platform = self._platforms.get(store.platform)
        return platform.config_problem(store) if platform is not None else None

    def for_delivery(self, platform: str, topic: str | None) -> Platform:
        """Which platform reads a stored delivery of `platform` (the column) and `topic`.

        A platform that shares its stores with another (the WooCommerce plugin's webhook)
        stores its deliveries under the store's platform with its own fixed topic.
        """
        serving = [known for known in self if known.serves == platform]
        for known in serving:
            if known.fixed_topic is not None and known.fixed_topic == topic:
                return known
        primary = self._platforms.get(platform)
        if primary is None:
            raise ValueError(f"no parser for platform {platform!r}")
        return primary

    def parser_for(
        self, store: ShopStore, platform: str, topic: str | None, headers: Mapping[str, str]
    ) -> Parser:
        """The parse of one stored delivery; `headers` are those stored with it.

        Carts the platform sent without a link back get the store's `recovery_url_template`.
        Every event is checked against the limits of `domain/bounds.py`, and whatever a hostile
        body makes Python's own readers raise is a `PayloadError` too: one rule for every platform.
        """
        reader = self.for_delivery(platform, topic)
        stored_headers = dict(headers)
        template = store.recovery_url_template

        def parse(body: bytes, received_at: datetime) -> list[Event]:
            delivery = StoredDelivery(topic, stored_headers, body)
            try:
                events = reader.parse(delivery, store, received_at)
                if template is not None:
                    events = [_with_link(event, template) for event in events]
                for event in events:
                    check_event(event)
            except OutOfBounds as exc:
                raise PayloadError(str(exc)) from None
            except (OverflowError, RecursionError, UnicodeError) as exc:
                raise PayloadError(f"body cannot be read: {type(exc).__name__}") from None
            return [_received_by_then(event, received_at) for event in events]

        return parse


def _received_by_then(event: Event, received_at: datetime) -> Event:
    dated, noted = not_after(event, received_at)
    if noted:
        log.warning(
            "event dated after it arrived: counted when it arrived",
            extra={"store": event.store_id, "claimed": event.occurred_at.isoformat()},
        )
    return dated


def _with_link(event: Event, template: str) -> Event:
    if not isinstance(event, CartUpdated) or event.recovery_url:
        return event
    email = quote(event.customer.email or "", safe="")
    key = quote(event.cart_key, safe="")
    link = template.replace("{cart_id}", key).replace("{cart_key}", key).replace("{email}", email)
    return replace(event, recovery_url=link)


PLATFORMS = Registry(
    [
        ShopifyPlatform(),
        WooCommercePlatform(),
        CartRecoveryPlatform(),
        GenericPlatform(),
        MagentoPlatform(),
    ]
)


def parser_for(
    store: ShopStore, platform: str, topic: str | None, headers: Mapping[str, str]
) -> Parser:
    """`PLATFORMS.parser_for`: how a new, polled or replayed delivery is read."""
    return PLATFORMS.parser_for(store, platform, topic, headers)
