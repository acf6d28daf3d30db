"""Customer and product facts from Shopify's Admin API, against a fake Shopify with its throttle."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from cartback.clock import FakeClock
from cartback.domain.events import CartUpdated, Channel
from cartback.integrations.shopify import parse
from cartback.integrations.shopify_enrichment import (
    Collection,
    CustomerProfile,
    MarketingConsent,
    ShopifyEnrichment,
    consent_events,
    enrich_cart,
)
from cartback.integrations.shopify_graphql import AdminGraphQL, AdminUnavailable
from tests.fakes.shopify_admin import FakeShopifyAdmin

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
CUSTOMER = "603851970716743400"  # the 2026-04 checkout fixture's customer
PRODUCT = "632910392"  # and its product
CONSENTED_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> FakeShopifyAdmin:
    fake = FakeShopifyAdmin()
    fake.add_customer(
        CUSTOMER,
        tags=("vip", "Loyal"),
        orders=3,
        spent="375.30",
        currency="USD",
        email="john@example.com",
        phone="+4520123456",
        sms_state="SUBSCRIBED",
        email_state="UNSUBSCRIBED",
        consent_updated_at=CONSENTED_AT,
    )
    fake.add_product(PRODUCT, tags=("promo",), collections=(("Summer Sale", "summer-sale"),))
    return fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 4, 2, 8, 30, tzinfo=UTC))


def enrichment(
    fake: FakeShopifyAdmin, clock: FakeClock, ttl: timedelta = timedelta(hours=1)
) -> ShopifyEnrichment:
    client = AdminGraphQL(
        fake.shop_domain,
        fake.access_token,
        transport=httpx.MockTransport(fake.handle),
        timer=fake.timer,
    )
    return ShopifyEnrichment("demo", client, clock, ttl=ttl)


def test_one_query_fetches_the_customer_and_the_products(
    fake: FakeShopifyAdmin, clock: FakeClock
) -> None:
    found = enrichment(fake, clock).lookup([CUSTOMER], [PRODUCT])

    assert fake.operations == ["nodes"]
    assert fake.lookups == [
        f"gid://shopify/Customer/{CUSTOMER}",
        f"gid://shopify/Product/{PRODUCT}",
    ]
    assert found.customers[CUSTOMER] == CustomerProfile(
        customer_id=CUSTOMER,
        tags=("vip", "Loyal"),
        orders_count=3,
        amount_spent=Decimal("375.30"),
        currency="USD",
        email="john@example.com",
        phone="+4520123456",
        email_consent=MarketingConsent("unsubscribed", CONSENTED_AT),
        sms_consent=MarketingConsent("subscribed", CONSENTED_AT),
    )
    product = found.products[PRODUCT]
    assert product is not None
    assert (product.tags, product.collections) == (
        ("promo",),
        (Collection("Summer Sale", "summer-sale"),),
    )


def test_the_query_asks_for_what_segment_rules_need() -> None:
    fake = FakeShopifyAdmin()
    enrichment(fake, FakeClock()).lookup(["1"], ["2"])

    query = fake.last_body["query"]
    for needed in (
        "customers: nodes(ids: $customerIds)",
        "products: nodes(ids: $productIds)",
        "numberOfOrders",
        "amountSpent { amount currencyCode }",
        "emailMarketingConsent { marketingState consentUpdatedAt }",
        "smsMarketingConsent { marketingState consentUpdatedAt }",
        "collections(first: 10) { nodes { title handle } }",
    ):
        assert needed in query


def test_the_second_cart_is_answered_from_the_cache(
    fake: FakeShopifyAdmin, clock: FakeClock
) -> None:
    lookups = enrichment(fake, clock)
    first = lookups.lookup([CUSTOMER], [PRODUCT])

    clock.advance(timedelta(minutes=59))
    second = lookups.lookup([CUSTOMER, CUSTOMER], [PRODUCT])

    assert second == first
    assert fake.count("nodes") == 1


def test_after_the_ttl_shopify_is_asked_again(fake: FakeShopifyAdmin, clock: FakeClock) -> None:
    lookups = enrichment(fake, clock, ttl=timedelta(minutes=10))
    lookups.lookup([CUSTOMER], [])
    fake.add_customer(CUSTOMER, tags=("vip", "wholesale"))

    clock.advance(timedelta(minutes=10))
    found = lookups.lookup([CUSTOMER], [])

    assert fake.count("nodes") == 2
    profile = found.customers[CUSTOMER]
    assert profile is not None and profile.tags == ("vip", "wholesale")


def test_a_record_the_shop_does_not_have_is_remembered_as_none(
    fake: FakeShopifyAdmin, clock: FakeClock
) -> None:
    lookups = enrichment(fake, clock)

    assert lookups.lookup(["999"], ["888"]).customers == {"999": None}
    assert lookups.lookup(["999"], ["888"]).products == {"888": None}
    assert fake.count("nodes") == 1


def test_a_failed_lookup_is_not_cached(fake: FakeShopifyAdmin, clock: FakeClock) -> None:
    lookups = enrichment(fake, clock)
    fake.fail_next(503)

    with pytest.raises(AdminUnavailable, match="HTTP 503"):
        lookups.lookup([CUSTOMER], [])
    assert lookups.lookup([CUSTOMER], []).customers[CUSTOMER] is not None


def test_many_ids_are_batched_under_the_cost_and_id_limits(clock: FakeClock) -> None:
    fake = FakeShopifyAdmin()
    customers = [str(n) for n in range(1, 121)]
    products = [str(n) for n in range(1001, 1101)]
    for key in customers:
        fake.add_customer(key, orders=1)
    for key in products:
        fake.add_product(key, tags=("x",))

    found = enrichment(fake, clock).lookup(customers, products)

    assert all(found.customers[key] for key in customers)
    assert all(found.products[key] for key in products)
    assert sorted(fake.lookups) == sorted(
        [f"gid://shopify/Customer/{k}" for k in customers]
        + [f"gid://shopify/Product/{k}" for k in products]
    )
    bodies = [json.loads(request.content)["variables"] for request in fake.requests]
    costs = [1 + 6 * len(b["customerIds"]) + 13 * len(b["productIds"]) for b in bodies]
    assert len(bodies) == 3  # 120*6 + 100*13 = 2020 points: three queries of at most 1000
    assert max(costs) <= 1000


def test_the_cost_throttle_is_honoured(clock: FakeClock) -> None:
    fake = FakeShopifyAdmin(maximum=100.0, restore_rate=10.0, available=5.0)
    for key in ("1", "2"):
        fake.add_customer(key)
        fake.add_product(key)
    lookups = enrichment(fake, clock)

    lookups.lookup(["1"], ["1"])  # 20 points, 5 available: throttled, waits, retries
    lookups.lookup(["2"], ["2"])  # the bucket is empty: waits before asking

    assert fake.throttled == 1
    assert fake.timer.sleeps == [1.5, 2.0]
    assert fake.count("nodes") == 2


def test_enrich_cart_fills_what_2026_04_webhooks_leave_out(
    fake: FakeShopifyAdmin, clock: FakeClock
) -> None:
    body = (FIXTURES / "checkouts_create.json").read_bytes()
    (cart,) = parse(
        "checkouts/create", body, store_id="demo", default_country=None, received_at=clock.now()
    )
    assert isinstance(cart, CartUpdated)
    assert (cart.customer.tags, cart.customer.orders_count, cart.items[0].tags) == ((), None, ())

    enriched = enrich_cart(cart, enrichment(fake, clock).lookup([CUSTOMER], [PRODUCT]))

    customer = enriched.customer
    assert (customer.tags, customer.orders_count) == (("vip", "Loyal"), 3)
    assert customer.total_spent == Decimal("375.30")
    assert enriched.items[0].tags == ("promo",)
    assert enriched.items[0].collections == ("Summer Sale", "summer-sale")
    assert enriched.total == cart.total and enriched.cart_key == cart.cart_key


def test_the_customers_consent_states_become_ledger_entries(
    fake: FakeShopifyAdmin, clock: FakeClock
) -> None:
    profile = enrichment(fake, clock).lookup([CUSTOMER], []).customers[CUSTOMER]
    assert profile is not None

    sms, email = consent_events(
        profile, store_id="demo", default_country="DK", fetched_at=clock.now()
    )

    assert (sms.channel, sms.granted, sms.phone, sms.occurred_at) == (
        Channel.SMS,
        True,
        "+4520123456",
        CONSENTED_AT,
    )
    assert (email.channel, email.granted, email.email) == (Channel.EMAIL, False, "john@example.com")
    assert sms.source == "shopify:admin-api"
    assert sms.detail == "smsMarketingConsent.marketingState=SUBSCRIBED"


def test_a_customer_who_never_subscribed_gives_no_entry(clock: FakeClock) -> None:
    profile = CustomerProfile(
        customer_id="1",
        tags=(),
        orders_count=0,
        amount_spent=Decimal("0"),
        currency="DKK",
        email="a@example.com",
        phone="+4520123456",
        email_consent=MarketingConsent("not_subscribed", None),
        sms_consent=MarketingConsent("pending", None),
    )

    assert (
        consent_events(profile, store_id="demo", default_country=None, fetched_at=clock.now()) == []
    )
