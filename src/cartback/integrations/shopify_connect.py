"""`cartback shopify connect`: subscribe a shop to every webhook topic cartback reads, idempotently.

Through the GraphQL Admin API (2025-10 and later name the endpoint `uri`):
- `webhookSubscriptions(first, after, topics)` lists this app's subscriptions in the shop
  (`{nodes: [{id, topic, uri}], pageInfo: {hasNextPage, endCursor}}`);
- `webhookSubscriptionCreate(topic, webhookSubscription: {uri, format: JSON})` adds a missing one;
- `webhookSubscriptionUpdate(id, webhookSubscription: {uri})` moves one of ours (a URI ending in
  `/webhooks/shopify`) that points at another address, e.g. an old `public_url`.

Nothing is deleted: a subscription to another endpoint is left as it is and reported. The
mandatory privacy topics (`customers/data_request`, `customers/redact`, `shop/redact`) cannot be
subscribed to here; they are set in the app's configuration.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx

from cartback.config import Settings, StoreConfig
from cartback.integrations.shopify_graphql import AdminError, AdminGraphQL, user_errors

WEBHOOK_PATH = "/webhooks/shopify"
PAGE_SIZE = 100

# WebhookSubscriptionTopic enum value -> the topic name in the X-Shopify-Topic header.
TOPICS: dict[str, str] = {
    "CHECKOUTS_CREATE": "checkouts/create",
    "CHECKOUTS_UPDATE": "checkouts/update",
    "CHECKOUTS_DELETE": "checkouts/delete",
    "ORDERS_CREATE": "orders/create",
    "ORDERS_PAID": "orders/paid",
    "ORDERS_CANCELLED": "orders/cancelled",
    "ORDERS_UPDATED": "orders/updated",
    "REFUNDS_CREATE": "refunds/create",
    "CUSTOMERS_MARKETING_CONSENT_UPDATE": "customers_marketing_consent/update",
    "CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE": "customers_email_marketing_consent/update",
}

LIST_QUERY = """
query CartbackWebhooks($first: Int!, $after: String, $topics: [WebhookSubscriptionTopic!]) {
  webhookSubscriptions(first: $first, after: $after, topics: $topics) {
    nodes { id topic uri }
    pageInfo { hasNextPage endCursor }
  }
}
""".strip()

CREATE_MUTATION = """
mutation CartbackSubscribe($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
""".strip()  # noqa: E501

UPDATE_MUTATION = """
mutation CartbackMoveWebhook($id: ID!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
""".strip()


class ConnectError(Exception):
    """A reason `connect` cannot run or finish; the message says what to do."""


class State(StrEnum):
    CREATED = "created"
    EXISTS = "exists"
    UPDATED = "updated"
    MISSING = "missing"  # --check: would be created
    WRONG_URL = "wrong URL"  # --check: ours, at another address; would be updated
    OTHER_URL = "other URL"  # someone else's endpoint: left alone


@dataclass(frozen=True, slots=True)
class TopicState:
    topic: str  # as in the X-Shopify-Topic header, e.g. "checkouts/create"
    state: State
    uri: str


@dataclass(frozen=True, slots=True)
class _Subscription:
    id: str
    topic: str  # the enum value
    uri: str


def webhook_uri(public_url: str) -> str:
    """Where Shopify must deliver; refuses an address Shopify cannot reach."""
    parts = urlsplit(public_url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme != "https":
        raise ConnectError(
            f"public_url {public_url!r} is not https: Shopify delivers webhooks only to https "
            "addresses; set public_url to the address cartback is reachable at from the internet"
        )
    if not host or _unreachable(host):
        raise ConnectError(
            f"public_url {public_url!r} points at {host or 'no host'}, which Shopify cannot "
            "reach; use the public https address of cartback (or of a tunnel to it)"
        )
    return public_url.strip().rstrip("/") + WEBHOOK_PATH


def connect(
    store: StoreConfig, public_url: str, admin: AdminGraphQL, check_only: bool
) -> list[TopicState]:
    """Bring the shop's subscriptions in line with what cartback reads; with `check_only`, only
    say what would change. One row per topic, plus one per subscription of someone else's."""
    target = webhook_uri(public_url)
    existing = _list(admin)
    states: list[TopicState] = []
    for enum, topic in TOPICS.items():
        mine = [s for s in existing if s.topic == enum]
        exact = next((s for s in mine if s.uri == target), None)
        movable = next((s for s in mine if s.uri != target and _is_ours(s.uri)), None)
        if exact is not None:
            states.append(TopicState(topic, State.EXISTS, target))
        elif movable is not None:
            states.append(_move(admin, store, movable, topic, target, check_only))
        else:
            states.append(_create(admin, store, enum, topic, target, check_only))
        handled = (exact or movable,)
        states += [TopicState(topic, State.OTHER_URL, s.uri) for s in mine if s not in handled]
    return states


def render_table(states: list[TopicState]) -> list[str]:
    width = max([len("topic"), *(len(s.topic) for s in states)])
    lines = [f"{'topic':<{width}}  {'state':<9}  address"]
    lines += [f"{s.topic:<{width}}  {s.state.value:<9}  {s.uri}" for s in states]
    return lines


def run_connect(
    settings: Settings,
    store_id: str,
    check: bool,
    out: Callable[[str], None],
    *,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """The CLI command: 0 when every topic is in place, 1 when `check` finds something to do,
    2 when it cannot run (the message names the store and the problem)."""
    try:
        store, token = _shopify_store(settings, store_id)
        with AdminGraphQL(
            store.shop_domain or "", token, base_url=store.base_url, transport=transport
        ) as admin:
            states = connect(store, settings.public_url, admin, check)
    except (ConnectError, AdminError) as exc:
        out(f"cartback: store {store_id}: {exc}")
        return 2
    for line in render_table(states):
        out(line)
    pending = {State.MISSING, State.WRONG_URL}
    return 1 if check and any(s.state in pending for s in states) else 0


# --- plumbing ---------------------------------------------------------------------------------


def _shopify_store(settings: Settings, store_id: str) -> tuple[StoreConfig, str]:
    store = settings.store(store_id)
    if store is None:
        raise ConnectError("no such store in the config")
    if store.platform != "shopify":
        raise ConnectError(f"it is a {store.platform} store; connect is for Shopify stores")
    if not store.access_token:
        raise ConnectError(
            "no access_token: set an Admin API access token with the read_orders, "
            "read_customers, read_products and write_discounts scopes"
        )
    return store, store.access_token


def _list(admin: AdminGraphQL) -> list[_Subscription]:
    found: list[_Subscription] = []
    after: str | None = None
    while True:
        variables = {"first": PAGE_SIZE, "after": after, "topics": list(TOPICS)}
        data = admin.execute(LIST_QUERY, variables, cost=2 + PAGE_SIZE)
        page = data.get("webhookSubscriptions") or {}
        found += [_subscription(node) for node in page.get("nodes") or [] if node]
        info = page.get("pageInfo") or {}
        after = info.get("endCursor")
        if not info.get("hasNextPage") or not after:
            return found


def _create(
    admin: AdminGraphQL, store: StoreConfig, enum: str, topic: str, uri: str, check: bool
) -> TopicState:
    if check:
        return TopicState(topic, State.MISSING, uri)
    variables = {"topic": enum, "webhookSubscription": {"uri": uri, "format": "JSON"}}
    data = admin.execute(CREATE_MUTATION, variables, scope=_scope(topic))
    _refused(store, topic, data.get("webhookSubscriptionCreate"))
    return TopicState(topic, State.CREATED, uri)


def _move(
    admin: AdminGraphQL,
    store: StoreConfig,
    found: _Subscription,
    topic: str,
    uri: str,
    check: bool,
) -> TopicState:
    if check:
        return TopicState(topic, State.WRONG_URL, found.uri)
    variables = {"id": found.id, "webhookSubscription": {"uri": uri}}
    data = admin.execute(UPDATE_MUTATION, variables, scope=_scope(topic))
    _refused(store, topic, data.get("webhookSubscriptionUpdate"))
    return TopicState(topic, State.UPDATED, uri)


def _refused(store: StoreConfig, topic: str, payload: Any) -> None:
    if not isinstance(payload, dict):
        raise ConnectError(f"Shopify {store.shop_domain} gave no answer for {topic}")
    errors = user_errors(payload)
    if errors:
        details = "; ".join(str(error) for error in errors)
        raise ConnectError(
            f"Shopify {store.shop_domain} refused {topic}: {details} (subscribing to it needs "
            f"the {_scope(topic)} access scope)"
        )


def _scope(topic: str) -> str:
    """The access scope a topic's subscription needs: checkouts, orders and refunds are read
    with read_orders, the consent topics with read_customers."""
    return "read_customers" if topic.startswith("customers") else "read_orders"


def _subscription(node: dict[str, Any]) -> _Subscription:
    return _Subscription(str(node.get("id")), str(node.get("topic")), str(node.get("uri") or ""))


def _is_ours(uri: str) -> bool:
    return urlsplit(uri).path.rstrip("/").endswith(WEBHOOK_PATH)


def _unreachable(host: str) -> bool:
    """Loopback, private, link-local and reserved addresses, `localhost`, mDNS `.local` names
    and single-label names: Shopify's servers cannot reach any of them."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        names = ("localhost", ".localhost", ".local", ".internal")
        return host == "localhost" or host.endswith(names[1:]) or "." not in host
    return not address.is_global
