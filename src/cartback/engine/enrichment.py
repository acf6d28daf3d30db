"""Completing a Shopify checkout with what its webhook no longer carries, before it is applied.

Ingest parses a stored delivery, then (no transaction open) hands the events to `Enricher`,
then applies them in one transaction. For a Shopify store with an Admin `access_token`, each
cart update gets the customer's tags, order count and amount spent and, when a rule looks at
them, its products' tags and collections, through the cached lookup (at most one lookup per
customer and product per TTL); the customer's consent states on Shopify's record become consent
ledger entries beside it. When Shopify cannot answer, the cart goes on as the webhook gave it,
and its timeline and the log say so: a missing tag must not lose the delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

import httpx

from cartback.clock import Clock
from cartback.config import Settings
from cartback.domain.admin_needs import admin_needs
from cartback.domain.events import CartUpdated, Event
from cartback.integrations.shopify_enrichment import (
    Lookup,
    ShopifyEnrichment,
    consent_events,
    enrich_cart,
)
from cartback.integrations.shopify_graphql import AdminError, AdminGraphQL, Timer

log = logging.getLogger("cartback.enrichment")
# Enrichment runs before a webhook is answered, and Shopify waits 5 seconds for the answer.
ENRICH_MAX_WAIT = 2.0  # seconds of Shopify's cost throttle worth waiting for
ENRICH_TIMEOUT = 2.0  # seconds for one Admin API answer


@dataclass(frozen=True, slots=True)
class StoreEnrichment:
    """One Shopify store's lookup, and whether its rules look at products at all."""

    lookup: ShopifyEnrichment
    default_country: str | None
    products: bool


class Enricher:
    def __init__(self, stores: Mapping[str, StoreEnrichment]) -> None:
        self.stores = dict(stores)

    def __call__(self, store_id: str, events: list[Event]) -> list[Event]:
        """The events with each cart update completed; the rest as they are."""
        store = self.stores.get(store_id)
        carts = [event for event in events if isinstance(event, CartUpdated)]
        if store is None or not carts:
            return events
        customers = [c.customer.external_id for c in carts if c.customer.external_id]
        products = [i.product_id for c in carts for i in c.items if i.product_id and store.products]
        if not customers and not products:
            return events
        try:
            lookup = store.lookup.lookup(customers, products)
        except AdminError as exc:
            log.warning("shopify admin lookup failed: %s", exc, extra={"store": store_id})
            note = f"{exc}; the cart is as the webhook gave it (no customer or product data)."
            return [
                replace(event, enrichment=note) if isinstance(event, CartUpdated) else event
                for event in events
            ]
        enriched: list[Event] = []
        for event in events:
            if isinstance(event, CartUpdated):
                enriched.extend(_consent(event, lookup, store))
                event = replace(enrich_cart(event, lookup), enrichment=_words(event, lookup))
            enriched.append(event)
        return enriched


def shopify_enricher(
    settings: Settings,
    clock: Clock,
    *,
    transport: httpx.BaseTransport | None = None,
    timer: Timer | None = None,
) -> Enricher:
    """A cached Admin API lookup per Shopify store with an access token. Enrichment runs before
    a webhook is answered, so a throttle wait longer than a few seconds is not slept."""
    stores: dict[str, StoreEnrichment] = {}
    for store in settings.stores:
        if store.platform != "shopify" or not store.access_token or not store.shop_domain:
            continue
        client = AdminGraphQL(
            store.shop_domain,
            store.access_token,
            base_url=store.base_url,
            transport=transport,
            timer=timer,
            max_wait=ENRICH_MAX_WAIT,
            timeout=ENRICH_TIMEOUT,
        )
        lookup = ShopifyEnrichment(store.id, client, clock, ttl=store.admin_cache_ttl)
        needs = admin_needs(settings.flows_for_store(store.id))
        stores[store.id] = StoreEnrichment(lookup, store.default_country, bool(needs.products))
    return Enricher(stores)


def admin_gaps(settings: Settings) -> dict[str, str]:
    """For each Shopify store without an Admin access token, the rules of its flows that need
    the shop's customer or product data, which they will be evaluated without."""
    gaps: dict[str, str] = {}
    for store in settings.stores:
        if store.platform != "shopify" or store.access_token:
            continue
        needs = admin_needs(settings.flows_for_store(store.id))
        if needs.any:
            gaps[store.id] = needs.describe()
    return gaps


def _words(event: CartUpdated, lookup: Lookup) -> str | None:
    """What the lookup found, for the cart's timeline (tags and figures, never an address)."""
    found: list[str] = []
    profile = lookup.customers.get(event.customer.external_id or "")
    if profile is not None:
        tags = ", ".join(profile.tags) or "no tags"
        spent = f"{profile.amount_spent:.2f} {profile.currency}".strip()
        found.append(f"customer {tags}; {profile.orders_count} orders; {spent} spent")
        for channel, consent in (("SMS", profile.sms_consent), ("email", profile.email_consent)):
            if consent is not None:
                found.append(f"{channel} marketing {consent.state.upper()}")
    for product_id in dict.fromkeys(i.product_id for i in event.items if i.product_id):
        product = lookup.products.get(product_id)
        if product is not None and (product.tags or product.collections):
            names = [*product.tags, *(c.title for c in product.collections)]
            found.append(f"product {product_id}: {', '.join(names)}")
    return f"Shopify Admin API: {'; '.join(found)}." if found else None


def _consent(event: CartUpdated, lookup: Lookup, store: StoreEnrichment) -> list[Event]:
    """The customer's consent states on Shopify's record; an undated one counts from the
    checkout's own time (the applier adds no entry that repeats the latest one)."""
    profile = lookup.customers.get(event.customer.external_id or "")
    if profile is None:
        return []
    found = consent_events(
        profile,
        store_id=event.store_id,
        default_country=store.default_country,
        fetched_at=event.occurred_at,
    )
    return list(found)
