"""Which parser reads a stored delivery: the same for a new webhook and for a replay."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from urllib.parse import quote

from cartback.config import StoreConfig
from cartback.domain.events import CartUpdated, Event
from cartback.integrations import generic, shopify, woocommerce, woocommerce_cart_recovery

Parser = Callable[[bytes, datetime], list[Event]]

CAR_TOPIC = "cart-abandonment-recovery"  # the WooCommerce plugin's webhook, stored under this topic


def parser_for(
    store: StoreConfig, platform: str, topic: str | None, headers: Mapping[str, str]
) -> Parser:
    """The parse of one delivery; `headers` are those stored with it.

    Carts the platform sent without a link back get the store's `recovery_url_template`.
    """
    parse = _platform_parser(store, platform, topic, headers)
    template = store.recovery_url_template
    if template is None:
        return parse
    return lambda body, at: [_with_link(event, template) for event in parse(body, at)]


def _with_link(event: Event, template: str) -> Event:
    if not isinstance(event, CartUpdated) or event.recovery_url:
        return event
    email = quote(event.customer.email or "", safe="")
    key = quote(event.cart_key, safe="")
    link = template.replace("{cart_id}", key).replace("{cart_key}", key).replace("{email}", email)
    return replace(event, recovery_url=link)


def _platform_parser(
    store: StoreConfig, platform: str, topic: str | None, headers: Mapping[str, str]
) -> Parser:
    content_type = _header(headers, "content-type")
    if platform == "shopify":
        return _shopify(store, topic or "")
    if platform == "woocommerce" and topic == CAR_TOPIC:
        return lambda body, at: woocommerce_cart_recovery.parse_car(
            body, content_type, store=woo_context(store), received_at=at
        )
    if platform == "woocommerce":
        source = _header(headers, woocommerce.SOURCE_HEADER)
        return lambda body, at: woocommerce.parse(
            topic or "", body, store=woo_context(store), received_at=at, source_url=source
        )
    if platform == "generic":
        return lambda body, at: generic.parse(
            body,
            content_type,
            store_id=store.id,
            default_country=store.default_country,
            received_at=at,
        )
    if platform == "magento":
        from cartback.engine.poller import parser_for as magento_parser

        return magento_parser(store, topic)
    raise ValueError(f"no parser for platform {platform!r}")


def _shopify(store: StoreConfig, topic: str) -> Parser:
    def parse(body: bytes, received_at: datetime) -> list[Event]:
        return shopify.parse(
            topic,
            body,
            store_id=store.id,
            default_country=store.default_country,
            received_at=received_at,
        )

    return parse


def woo_context(store: StoreConfig) -> woocommerce.StoreContext:
    keys = store.consent_meta_keys
    return woocommerce.StoreContext(
        store_id=store.id,
        default_country=store.default_country,
        consent_meta_keys=(keys.sms, keys.email),
        recovery_url_template=store.recovery_url_template,
        currency=store.currency,
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)
