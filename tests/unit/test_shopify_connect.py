"""`cartback shopify connect` against a fake Shopify Admin API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cartback.config import Settings
from cartback.integrations.shopify_connect import (
    TOPICS,
    ConnectError,
    State,
    TopicState,
    connect,
    render_table,
    run_connect,
    webhook_uri,
)
from cartback.integrations.shopify_graphql import AdminGraphQL
from tests.fakes.shopify_admin import FakeShopifyAdmin

PUBLIC_URL = "https://cartback.example.com"
TARGET = "https://cartback.example.com/webhooks/shopify"
OLD = "https://old-host.example.com/webhooks/shopify"
FOREIGN = "https://erp.example.com/hooks/orders"


def settings(fake: FakeShopifyAdmin, **store: Any) -> Settings:
    values = {
        "id": "demo",
        "platform": "shopify",
        "name": "Demo",
        "shop_domain": fake.shop_domain,
        "webhook_secret": "hush",
        "access_token": fake.access_token,
        **store,
    }
    return Settings.model_validate(
        {"public_url": PUBLIC_URL, "api_token": "t" * 32, "stores": [values]}
    )


def run(fake: FakeShopifyAdmin, check: bool = False, **store: Any) -> list[TopicState]:
    config = settings(fake, **store)
    store_config = config.store("demo")
    assert store_config is not None
    transport = httpx.MockTransport(fake.handle)
    with AdminGraphQL(fake.shop_domain, fake.access_token, transport=transport) as admin:
        return connect(store_config, config.public_url, admin, check)


def states(result: list[TopicState]) -> dict[str, set[State]]:
    found: dict[str, set[State]] = {}
    for row in result:
        found.setdefault(row.topic, set()).add(row.state)
    return found


@pytest.fixture
def fake() -> FakeShopifyAdmin:
    return FakeShopifyAdmin()


def test_the_first_run_subscribes_every_topic_at_public_url(fake: FakeShopifyAdmin) -> None:
    result = run(fake)

    assert [row.state for row in result] == [State.CREATED] * len(TOPICS)
    assert fake.subscribed() == {enum: [TARGET] for enum in TOPICS}
    assert {row.topic for row in result} == {
        "checkouts/create",
        "checkouts/update",
        "checkouts/delete",
        "orders/create",
        "orders/paid",
        "orders/cancelled",
        "orders/updated",
        "refunds/create",
        "customers_marketing_consent/update",
        "customers_email_marketing_consent/update",
    }
    create = next(r for r in fake.requests if b"webhookSubscriptionCreate" in r.content)
    assert b'"format": "JSON"' in create.content or b'"format":"JSON"' in create.content


def test_the_second_run_creates_nothing(fake: FakeShopifyAdmin) -> None:
    run(fake)
    before = len(fake.operations)

    result = run(fake)

    assert [row.state for row in result] == [State.EXISTS] * len(TOPICS)
    assert fake.operations[before:] == ["webhookSubscriptions"]
    assert len(fake.subscriptions) == len(TOPICS)


def test_a_subscription_of_ours_at_an_old_address_is_moved(fake: FakeShopifyAdmin) -> None:
    moved = fake.subscribe("CHECKOUTS_UPDATE", OLD)

    result = run(fake)

    assert states(result)["checkouts/update"] == {State.UPDATED}
    assert fake.subscriptions[int(moved.rsplit("/", 1)[1])]["uri"] == TARGET
    assert fake.subscribed()["CHECKOUTS_UPDATE"] == [TARGET]
    assert fake.count("webhookSubscriptionUpdate") == 1


def test_someone_elses_subscription_is_left_and_reported(fake: FakeShopifyAdmin) -> None:
    fake.subscribe("ORDERS_CREATE", FOREIGN)

    result = run(fake)

    assert TopicState("orders/create", State.OTHER_URL, FOREIGN) in result
    assert TopicState("orders/create", State.CREATED, TARGET) in result
    assert set(fake.subscribed()["ORDERS_CREATE"]) == {FOREIGN, TARGET}


def test_check_changes_nothing_and_says_what_would_change(fake: FakeShopifyAdmin) -> None:
    fake.subscribe("CHECKOUTS_CREATE", TARGET)
    fake.subscribe("CHECKOUTS_UPDATE", OLD)
    before = dict(fake.subscriptions)

    result = run(fake, check=True)

    found = states(result)
    assert found["checkouts/create"] == {State.EXISTS}
    assert found["checkouts/update"] == {State.WRONG_URL}
    assert found["orders/create"] == {State.MISSING}
    assert fake.operations == ["webhookSubscriptions"]
    assert fake.subscriptions == before


def test_every_page_of_subscriptions_is_read(fake: FakeShopifyAdmin) -> None:
    for number in range(150):
        fake.subscribe("ORDERS_UPDATED", f"https://erp.example.com/hooks/{number}")
    fake.subscribe("ORDERS_UPDATED", TARGET)

    result = run(fake)

    assert fake.count("webhookSubscriptions") == 2
    assert states(result)["orders/updated"] == {State.EXISTS, State.OTHER_URL}
    assert sum(1 for row in result if row.state is State.OTHER_URL) == 150


@pytest.mark.parametrize(
    ("public_url", "problem"),
    [
        ("http://cartback.example.com", "not https"),
        ("https://localhost:8000", "cannot reach"),
        ("https://shop.localhost", "cannot reach"),
        ("https://127.0.0.1:8000", "cannot reach"),
        ("https://10.1.2.3", "cannot reach"),
        ("https://192.168.1.20", "cannot reach"),
        ("https://172.16.0.9", "cannot reach"),
        ("https://[::1]:8000", "cannot reach"),
        ("https://cartback", "cannot reach"),
    ],
)
def test_an_address_shopify_cannot_reach_is_refused_before_any_call(
    fake: FakeShopifyAdmin, public_url: str, problem: str
) -> None:
    with pytest.raises(ConnectError, match=problem):
        webhook_uri(public_url)

    out: list[str] = []
    config = settings(fake).model_copy(update={"public_url": public_url})
    code = run_connect(
        config, "demo", False, out.append, transport=httpx.MockTransport(fake.handle)
    )
    assert code == 2
    assert out[0].startswith("cartback: store demo: public_url")
    assert fake.requests == []


def test_a_path_under_public_url_is_kept() -> None:
    assert webhook_uri("https://shop.example.com/cartback/") == (
        "https://shop.example.com/cartback/webhooks/shopify"
    )


def test_the_command_prints_a_table_and_exits_0(fake: FakeShopifyAdmin) -> None:
    out: list[str] = []

    code = run_connect(
        settings(fake), "demo", False, out.append, transport=httpx.MockTransport(fake.handle)
    )

    assert code == 0
    assert out[0].split() == ["topic", "state", "address"]
    assert out[1].split() == ["checkouts/create", "created", TARGET]
    assert len(out) == 1 + len(TOPICS)


def test_check_exits_1_while_something_is_missing_and_0_after_connecting(
    fake: FakeShopifyAdmin,
) -> None:
    transport = httpx.MockTransport(fake.handle)
    assert run_connect(settings(fake), "demo", True, lambda _: None, transport=transport) == 1
    assert run_connect(settings(fake), "demo", False, lambda _: None, transport=transport) == 0
    assert run_connect(settings(fake), "demo", True, lambda _: None, transport=transport) == 0


@pytest.mark.parametrize(
    ("store_id", "changes", "problem"),
    [
        ("nope", {}, "no such store"),
        ("demo", {"access_token": None}, "no access_token"),
        ("demo", {"platform": "generic", "insecure": True}, "connect is for Shopify"),
    ],
)
def test_a_store_that_cannot_be_connected_exits_2_naming_it(
    fake: FakeShopifyAdmin, store_id: str, changes: dict[str, Any], problem: str
) -> None:
    out: list[str] = []

    code = run_connect(settings(fake, **changes), store_id, False, out.append)

    assert code == 2
    assert out[0].startswith(f"cartback: store {store_id}: ")
    assert problem in out[0]


def test_a_refused_token_exits_2_without_repeating_it(fake: FakeShopifyAdmin) -> None:
    out: list[str] = []
    config = settings(fake, access_token="shpat_wrong")

    code = run_connect(
        config, "demo", False, out.append, transport=httpx.MockTransport(fake.handle)
    )

    assert code == 2
    assert "HTTP 401" in out[0] and "shpat_wrong" not in out[0]


def test_a_refusal_names_the_topic_and_the_scope(fake: FakeShopifyAdmin) -> None:
    fake.refused_topics.add("CUSTOMERS_MARKETING_CONSENT_UPDATE")
    out: list[str] = []

    code = run_connect(
        settings(fake), "demo", False, out.append, transport=httpx.MockTransport(fake.handle)
    )

    assert code == 2
    assert "refused customers_marketing_consent/update" in out[0]
    assert "read_customers access scope" in out[0]


def test_the_table_lines_up() -> None:
    lines = render_table(
        [
            TopicState("orders/create", State.CREATED, TARGET),
            TopicState("customers_marketing_consent/update", State.OTHER_URL, FOREIGN),
        ]
    )
    assert lines[1].index("created") == lines[2].index("other URL") == lines[0].index("state")
