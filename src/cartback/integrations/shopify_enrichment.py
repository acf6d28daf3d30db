"""What segment rules need from Shopify that webhooks no longer carry, through the Admin API.

Since API 2025-01 a checkout's nested customer has no tags, order count, amount spent or consent,
and line items carry no product tags or collections. `ShopifyEnrichment.lookup` fetches them with
`nodes(ids:)` (Customer: `tags`, `numberOfOrders` (UnsignedInt64, a string), `amountSpent`
(MoneyV2), `defaultEmailAddress`, `defaultPhoneNumber` (both since 2025-04),
`emailMarketingConsent` / `smsMarketingConsent` {`marketingState`, `consentUpdatedAt`}; Product:
`tags`, `collections`), as few queries as the cost limit allows, and remembers every answer
(a record Shopify does not have too) for a TTL per store: at most one lookup per customer and
per product per TTL. The token needs `read_customers` and `read_products`; a public app also
needs Shopify's approval for protected customer data (the email address and phone number).

`enrich_cart` folds a lookup into a `CartUpdated`, `consent_events` turns a customer's consent
states into ledger entries (the rules of `shopify_consent`); the engine calls them, outside any
database transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import Field

from cartback.clock import Clock
from cartback.domain.events import CartUpdated, Channel, ConsentChanged, LineItem
from cartback.integrations.shopify_cache import Cached, MemoryCache, ProfileCache, V
from cartback.integrations.shopify_consent import customer_phone, ledger_entry
from cartback.integrations.shopify_graphql import (
    MAX_QUERY_COST,
    AdminGraphQL,
    AnswerModel,
    read_answer,
)

COLLECTIONS_PER_PRODUCT = 10
CUSTOMER_COST = 6  # the node and five objects in it (Shopify: 1 point per object)
PRODUCT_COST = 1 + 2 + COLLECTIONS_PER_PRODUCT  # the node and a connection of 10
MAX_IDS = 250  # `nodes(ids:)` takes at most this many
SOURCE = "shopify:admin-api"

LOOKUP_QUERY = f"""
query CartbackEnrichment($customerIds: [ID!]!, $productIds: [ID!]!) {{
  customers: nodes(ids: $customerIds) {{
    ... on Customer {{
      id
      tags
      numberOfOrders
      amountSpent {{ amount currencyCode }}
      defaultEmailAddress {{ emailAddress }}
      defaultPhoneNumber {{ phoneNumber }}
      emailMarketingConsent {{ marketingState consentUpdatedAt }}
      smsMarketingConsent {{ marketingState consentUpdatedAt }}
    }}
  }}
  products: nodes(ids: $productIds) {{
    ... on Product {{
      id
      tags
      collections(first: {COLLECTIONS_PER_PRODUCT}) {{ nodes {{ title handle }} }}
    }}
  }}
}}
""".strip()


@dataclass(frozen=True, slots=True)
class MarketingConsent:
    state: str  # Shopify's state, lower-cased: subscribed, not_subscribed, pending, ...
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    customer_id: str  # the numeric id webhooks carry
    tags: tuple[str, ...]
    orders_count: int
    amount_spent: Decimal
    currency: str
    email: str | None = None
    phone: str | None = None
    email_consent: MarketingConsent | None = None
    sms_consent: MarketingConsent | None = None


@dataclass(frozen=True, slots=True)
class Collection:
    title: str
    handle: str


@dataclass(frozen=True, slots=True)
class ProductProfile:
    product_id: str
    tags: tuple[str, ...]
    collections: tuple[Collection, ...]


@dataclass(frozen=True, slots=True)
class Lookup:
    """Profiles by numeric id; None where the shop has no such customer or product."""

    customers: Mapping[str, CustomerProfile | None]
    products: Mapping[str, ProductProfile | None]


class ShopifyEnrichment:
    def __init__(
        self,
        store_id: str,
        client: AdminGraphQL,
        clock: Clock,
        *,
        ttl: timedelta = timedelta(hours=1),
        customers: ProfileCache[CustomerProfile] | None = None,
        products: ProfileCache[ProductProfile] | None = None,
    ) -> None:
        self.store_id = store_id
        self.client = client
        self.clock = clock
        self.ttl = ttl
        self.customers = customers if customers is not None else MemoryCache[CustomerProfile]()
        self.products = products if products is not None else MemoryCache[ProductProfile]()

    def lookup(self, customer_ids: Iterable[str], product_ids: Iterable[str]) -> Lookup:
        """Profiles for these ids, from the cache or from Shopify. Raises AdminError (or
        AdminUnavailable) when Shopify cannot answer; nothing is cached then."""
        now = self.clock.now()
        customers, missing_customers = _cached(self.customers, self.store_id, customer_ids, now)
        products, missing_products = _cached(self.products, self.store_id, product_ids, now)
        for batch in _batches(missing_customers, missing_products):
            found_customers, found_products = self._fetch(*batch)
            expires_at = self.clock.now() + self.ttl
            for key in batch[0]:
                customers[key] = found_customers.get(key)
                self.customers.put(self.store_id, key, Cached(customers[key], expires_at))
            for key in batch[1]:
                products[key] = found_products.get(key)
                self.products.put(self.store_id, key, Cached(products[key], expires_at))
        return Lookup(customers, products)

    def _fetch(
        self, customer_ids: list[str], product_ids: list[str]
    ) -> tuple[dict[str, CustomerProfile], dict[str, ProductProfile]]:
        data = self.client.execute(
            LOOKUP_QUERY,
            {
                "customerIds": [_gid("Customer", key) for key in customer_ids],
                "productIds": [_gid("Product", key) for key in product_ids],
            },
            cost=_cost(customer_ids, product_ids),
            scope="read_customers and read_products",
        )
        answer = read_answer(_Answer, data, self.client.where)
        customers = (_customer(node) for node in answer.customers if node and node.id)
        products = (_product(node) for node in answer.products if node and node.id)
        return (
            {profile.customer_id: profile for profile in customers},
            {profile.product_id: profile for profile in products},
        )


def enrich_cart(event: CartUpdated, lookup: Lookup) -> CartUpdated:
    """The cart with Shopify's customer tags, order count and amount spent, and each item's
    product tags and collections (handles and titles), where the lookup found them."""
    customer = event.customer
    profile = lookup.customers.get(customer.external_id or "")
    if profile is not None:
        customer = replace(
            customer,
            tags=profile.tags,
            orders_count=profile.orders_count,
            total_spent=profile.amount_spent,
        )
    items = tuple(_enriched_item(item, lookup) for item in event.items)
    return replace(event, customer=customer, items=items)


def consent_events(
    profile: CustomerProfile, *, store_id: str, default_country: str | None, fetched_at: datetime
) -> list[ConsentChanged]:
    """The customer's consent states as ledger entries for their default email and phone; a
    state that says nothing (an undated `NOT_SUBSCRIBED`) gives none."""
    found: list[ConsentChanged] = []
    given = (
        (Channel.SMS, profile.sms_consent, customer_phone(profile.phone, default_country), None),
        (Channel.EMAIL, profile.email_consent, None, profile.email),
    )
    for channel, consent, phone, email in given:
        entry = ledger_entry(consent.state, consent.updated_at, fetched_at) if consent else None
        if consent is None or entry is None or not (phone or email):
            continue
        name = "smsMarketingConsent" if channel is Channel.SMS else "emailMarketingConsent"
        found.append(
            ConsentChanged(
                store_id=store_id,
                channel=channel,
                granted=entry.granted,
                occurred_at=entry.occurred_at,
                source=SOURCE,
                phone=phone,
                email=email,
                customer_external_id=profile.customer_id,
                detail=f"{name}.marketingState={consent.state.upper()}",
            )
        )
    return found


# --- answers ----------------------------------------------------------------------------------


class _Money(AnswerModel):
    amount: Decimal
    currency_code: str = Field(alias="currencyCode")


class _Consent(AnswerModel):
    marketing_state: str = Field(alias="marketingState")
    consent_updated_at: datetime | None = Field(default=None, alias="consentUpdatedAt")


class _Email(AnswerModel):
    email_address: str | None = Field(default=None, alias="emailAddress")


class _Phone(AnswerModel):
    phone_number: str | None = Field(default=None, alias="phoneNumber")


class _CustomerNode(AnswerModel):
    """A `nodes` entry: empty when the id named something other than a customer."""

    id: str | None = None
    tags: list[str] = Field(default_factory=list)
    number_of_orders: int = Field(default=0, alias="numberOfOrders")
    amount_spent: _Money | None = Field(default=None, alias="amountSpent")
    default_email: _Email | None = Field(default=None, alias="defaultEmailAddress")
    default_phone: _Phone | None = Field(default=None, alias="defaultPhoneNumber")
    email_consent: _Consent | None = Field(default=None, alias="emailMarketingConsent")
    sms_consent: _Consent | None = Field(default=None, alias="smsMarketingConsent")


class _CollectionNode(AnswerModel):
    title: str
    handle: str


class _Collections(AnswerModel):
    nodes: list[_CollectionNode] = Field(default_factory=list)


class _ProductNode(AnswerModel):
    id: str | None = None
    tags: list[str] = Field(default_factory=list)
    collections: _Collections = Field(default_factory=_Collections)


class _Answer(AnswerModel):
    customers: list[_CustomerNode | None] = Field(default_factory=list)
    products: list[_ProductNode | None] = Field(default_factory=list)


def _customer(node: _CustomerNode) -> CustomerProfile:
    money = node.amount_spent
    return CustomerProfile(
        customer_id=_numeric(node.id or ""),
        tags=tuple(node.tags),
        orders_count=node.number_of_orders,
        amount_spent=money.amount if money else Decimal("0"),
        currency=money.currency_code if money else "",
        email=node.default_email.email_address if node.default_email else None,
        phone=node.default_phone.phone_number if node.default_phone else None,
        email_consent=_consent(node.email_consent),
        sms_consent=_consent(node.sms_consent),
    )


def _consent(consent: _Consent | None) -> MarketingConsent | None:
    if consent is None:
        return None
    return MarketingConsent(consent.marketing_state.lower(), consent.consent_updated_at)


def _product(node: _ProductNode) -> ProductProfile:
    return ProductProfile(
        product_id=_numeric(node.id or ""),
        tags=tuple(node.tags),
        collections=tuple(Collection(c.title, c.handle) for c in node.collections.nodes),
    )


# --- plumbing ---------------------------------------------------------------------------------


def _enriched_item(item: LineItem, lookup: Lookup) -> LineItem:
    product = lookup.products.get(item.product_id or "")
    if product is None:
        return item
    names = {name for c in product.collections for name in (c.handle, c.title)}
    return replace(item, tags=product.tags, collections=tuple(sorted(names)))


def _cached(
    cache: ProfileCache[V], store_id: str, ids: Iterable[str], now: datetime
) -> tuple[dict[str, V | None], list[str]]:
    """What the cache holds for these ids, and the ids (each once) it does not."""
    found: dict[str, V | None] = {}
    missing: list[str] = []
    for key in dict.fromkeys(_numeric(key) for key in ids if key):
        entry = cache.get(store_id, key, now)
        if entry is not None:
            found[key] = entry.value
        else:
            missing.append(key)
    return found, missing


def _batches(customers: list[str], products: list[str]) -> list[tuple[list[str], list[str]]]:
    """Customers, then products, packed into queries under the cost and id limits."""
    batches: list[tuple[list[str], list[str]]] = []
    current: tuple[list[str], list[str]] = ([], [])
    for kind, key in [(0, key) for key in customers] + [(1, key) for key in products]:
        grown = (current[0] + [key], current[1]) if kind == 0 else (current[0], current[1] + [key])
        if _cost(*grown) > MAX_QUERY_COST or max(map(len, grown)) > MAX_IDS:
            batches.append(current)
            grown = ([key], []) if kind == 0 else ([], [key])
        current = grown
    if current[0] or current[1]:
        batches.append(current)
    return batches


def _cost(customers: list[str], products: list[str]) -> int:
    return 1 + CUSTOMER_COST * len(customers) + PRODUCT_COST * len(products)


def _gid(kind: str, key: str) -> str:
    return f"gid://shopify/{kind}/{key}"


def _numeric(key: str) -> str:
    """`gid://shopify/Customer/42` or `42` -> `42`; anything else is kept as it is."""
    return key.rsplit("/", 1)[-1] if key.startswith("gid://shopify/") else key.strip()
