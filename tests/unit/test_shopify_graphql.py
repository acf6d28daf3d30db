"""The shared Admin API transport: endpoint, token, the query-cost throttle, errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cartback.integrations.shopify_graphql import (
    API_VERSION,
    AdminError,
    AdminGraphQL,
    AdminUnavailable,
)
from tests.fakes.shopify_admin import FakeShopifyAdmin

LIST = "query($first: Int!) { webhookSubscriptions(first: $first) { nodes { id } } }"


def page(points: int) -> dict[str, int]:
    """Variables for a list query that costs `points` (a connection: 2 + first)."""
    return {"first": points - 2}


def client(fake: FakeShopifyAdmin, **kwargs: Any) -> AdminGraphQL:
    return AdminGraphQL(
        fake.shop_domain,
        fake.access_token,
        transport=httpx.MockTransport(fake.handle),
        timer=fake.timer,
        **kwargs,
    )


def test_the_root_is_the_shop_or_base_url_and_the_version_is_pinned() -> None:
    fake = FakeShopifyAdmin()
    client(fake).execute(LIST, page(12), cost=12)
    client(fake, base_url="http://127.0.0.1:9999/").execute(LIST, page(12), cost=12)

    first, second = (str(request.url) for request in fake.requests)
    assert first == f"https://acme.myshopify.com/admin/api/{API_VERSION}/graphql.json"
    assert second == f"http://127.0.0.1:9999/admin/api/{API_VERSION}/graphql.json"
    assert all(r.headers["X-Shopify-Access-Token"] == fake.access_token for r in fake.requests)


def test_a_wait_longer_than_allowed_is_not_slept_but_raised() -> None:
    fake = FakeShopifyAdmin(maximum=100.0, restore_rate=1.0, available=100.0)
    admin = client(fake, max_wait=5.0)
    admin.execute(LIST, page(95), cost=95)  # leaves 5 points, restored at 1 per second

    with pytest.raises(AdminUnavailable, match="query cost limit") as caught:
        admin.execute(LIST, page(50), cost=50)

    assert caught.value.retry_after == pytest.approx(45.0)
    assert fake.timer.sleeps == []
    assert len(fake.requests) == 1


def test_the_bucket_refills_while_time_passes() -> None:
    fake = FakeShopifyAdmin(maximum=100.0, restore_rate=10.0, available=100.0)
    admin = client(fake)
    admin.execute(LIST, page(90), cost=90)

    fake.timer.now += 3.0  # 10 + 30 points by now
    admin.execute(LIST, page(40), cost=40)

    assert fake.timer.sleeps == []
    assert fake.throttled == 0


def test_a_missing_scope_is_named_and_is_not_worth_retrying() -> None:
    fake = FakeShopifyAdmin()
    fake.fail_next(403)

    with pytest.raises(AdminError, match="lacks the read_products access scope") as caught:
        client(fake).execute(LIST, scope="read_products")

    assert not isinstance(caught.value, AdminUnavailable)


def test_an_empty_token_is_refused_naming_the_shop() -> None:
    with pytest.raises(ValueError, match=r"acme\.myshopify\.com: no admin access token"):
        AdminGraphQL("acme.myshopify.com", "")
