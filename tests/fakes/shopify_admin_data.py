"""What the fake Shopify Admin API holds besides discounts: customers, products, webhook
subscriptions; each answered in the shapes of Shopify's GraphQL Admin reference (2026-04).

- `nodes(ids: [ID!]!)` under the aliases `customers` and `products` (variables `customerIds`,
  `productIds`): one entry per id, `null` for an id the shop does not have. `lookups` records
  every id asked for.
- `webhookSubscriptions(first, after, topics)`: `{nodes: [{id, topic, uri}], pageInfo:
  {hasNextPage, endCursor}}`, in id order.
- `webhookSubscriptionCreate(topic, webhookSubscription: {uri, format})` and
  `webhookSubscriptionUpdate(id, webhookSubscription: {uri})`: `{webhookSubscription, userErrors:
  [{field, message}]}`. A topic with the same URI twice is refused ("Address for this topic has
  already been taken"), so is a URI that is not https, and so is a topic in `refused_topics`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TAKEN_ADDRESS = "Address for this topic has already been taken"
CUSTOMER_COST = 6  # the node, amountSpent, two consent objects, default email and phone
PRODUCT_COST = 13  # the node and collections(first: 10): 1 + (2 + 10)


@dataclass(frozen=True)
class Answer:
    operation: str
    cost: float
    run: Callable[[], dict[str, Any]]


def customer_node(
    customer_id: str,
    *,
    tags: tuple[str, ...] = (),
    orders: int = 0,
    spent: str = "0.0",
    currency: str = "DKK",
    email: str | None = None,
    phone: str | None = None,
    email_state: str = "NOT_SUBSCRIBED",
    sms_state: str = "NOT_SUBSCRIBED",
    consent_updated_at: datetime | None = None,
) -> dict[str, Any]:
    """A `Customer` as `nodes` returns it; consent objects are null without the address."""
    updated = consent_updated_at.isoformat().replace("+00:00", "Z") if consent_updated_at else None
    return {
        "__typename": "Customer",
        "id": f"gid://shopify/Customer/{customer_id}",
        "tags": list(tags),
        "numberOfOrders": str(orders),  # UnsignedInt64 is serialised as a string
        "amountSpent": {"amount": spent, "currencyCode": currency},
        "defaultEmailAddress": {"emailAddress": email} if email else None,
        "defaultPhoneNumber": {"phoneNumber": phone} if phone else None,
        "emailMarketingConsent": (
            {
                "marketingState": email_state,
                "consentUpdatedAt": updated,
                "marketingOptInLevel": "SINGLE_OPT_IN",
            }
            if email
            else None
        ),
        "smsMarketingConsent": (
            {
                "marketingState": sms_state,
                "consentUpdatedAt": updated,
                "marketingOptInLevel": "SINGLE_OPT_IN",
                "consentCollectedFrom": "SHOPIFY",
            }
            if phone
            else None
        ),
    }


def product_node(
    product_id: str, *, tags: tuple[str, ...] = (), collections: tuple[tuple[str, str], ...] = ()
) -> dict[str, Any]:
    """A `Product` with `collections(first: 10) { nodes { title handle } }`."""
    return {
        "__typename": "Product",
        "id": f"gid://shopify/Product/{product_id}",
        "tags": list(tags),
        "collections": {
            "nodes": [{"title": title, "handle": handle} for title, handle in collections]
        },
    }


@dataclass
class AdminData:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # numeric id -> node
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[int, dict[str, Any]] = field(default_factory=dict)  # by numeric id
    lookups: list[str] = field(default_factory=list)  # every gid asked for, in order
    refused_topics: set[str] = field(default_factory=set)  # as for a token without the scope

    def add_customer(self, customer_id: str, **fields: Any) -> None:
        self.customers[customer_id] = customer_node(customer_id, **fields)

    def add_product(self, product_id: str, **fields: Any) -> None:
        self.products[product_id] = product_node(product_id, **fields)

    def subscribe(self, topic: str, uri: str) -> str:
        """A subscription made before the test (by cartback or by something else)."""
        number = 1000 + len(self.subscriptions)
        gid = f"gid://shopify/WebhookSubscription/{number}"
        self.subscriptions[number] = {"id": gid, "topic": topic, "uri": uri}
        return gid

    def subscribed(self) -> dict[str, list[str]]:
        """Topic -> the URIs it is delivered to."""
        found: dict[str, list[str]] = {}
        for node in self.subscriptions.values():
            found.setdefault(node["topic"], []).append(node["uri"])
        return found

    def answer(self, query: str, variables: dict[str, Any]) -> Answer | None:
        if "webhookSubscriptionCreate" in query:
            return Answer("webhookSubscriptionCreate", 10, lambda: self._create_hook(variables))
        if "webhookSubscriptionUpdate" in query:
            return Answer("webhookSubscriptionUpdate", 10, lambda: self._update_hook(variables))
        if "webhookSubscriptions(" in query:
            first = int(variables.get("first") or 50)
            return Answer("webhookSubscriptions", 2 + first, lambda: self._list_hooks(variables))
        if "nodes(" in query:
            customers = list(variables.get("customerIds") or [])
            products = list(variables.get("productIds") or [])
            cost = 1 + CUSTOMER_COST * len(customers) + PRODUCT_COST * len(products)
            return Answer("nodes", cost, lambda: self._nodes(customers, products))
        return None

    # -- nodes -----------------------------------------------------------------------------

    def _nodes(self, customers: list[str], products: list[str]) -> dict[str, Any]:
        self.lookups += customers + products
        return {
            "customers": [self._find(self.customers, "Customer", gid) for gid in customers],
            "products": [self._find(self.products, "Product", gid) for gid in products],
        }

    @staticmethod
    def _find(found: dict[str, dict[str, Any]], kind: str, gid: str) -> dict[str, Any] | None:
        prefix = f"gid://shopify/{kind}/"
        return found.get(gid[len(prefix) :]) if gid.startswith(prefix) else None

    # -- webhook subscriptions -------------------------------------------------------------

    def _list_hooks(self, variables: dict[str, Any]) -> dict[str, Any]:
        topics = set(variables.get("topics") or [])
        first = int(variables.get("first") or 50)
        after = int(str(variables.get("after") or "cursor:0").split(":")[1])
        matching = [
            number
            for number in sorted(self.subscriptions)
            if number > after and (not topics or self.subscriptions[number]["topic"] in topics)
        ]
        page = matching[:first]
        return {
            "webhookSubscriptions": {
                "nodes": [dict(self.subscriptions[number]) for number in page],
                "pageInfo": {
                    "hasNextPage": len(matching) > first,
                    "endCursor": f"cursor:{page[-1]}" if page else None,
                },
            }
        }

    def _create_hook(self, variables: dict[str, Any]) -> dict[str, Any]:
        topic = str(variables.get("topic"))
        uri = str((variables.get("webhookSubscription") or {}).get("uri") or "")
        problem = self._uri_problem(topic, uri)
        if problem:
            return _hook_payload("webhookSubscriptionCreate", None, problem)
        gid = self.subscribe(topic, uri)
        node = self.subscriptions[int(gid.rsplit("/", 1)[1])]
        return _hook_payload("webhookSubscriptionCreate", dict(node), None)

    def _update_hook(self, variables: dict[str, Any]) -> dict[str, Any]:
        gid = str(variables.get("id") or "")
        number = int(gid.rsplit("/", 1)[1]) if gid.rsplit("/", 1)[-1].isdigit() else -1
        node = self.subscriptions.get(number)
        if node is None:
            problem = {"field": ["id"], "message": "Webhook subscription does not exist"}
            return _hook_payload("webhookSubscriptionUpdate", None, problem)
        uri = str((variables.get("webhookSubscription") or {}).get("uri") or "")
        problem = self._uri_problem(node["topic"], uri)
        if problem:
            return _hook_payload("webhookSubscriptionUpdate", None, problem)
        node["uri"] = uri
        return _hook_payload("webhookSubscriptionUpdate", dict(node), None)

    def _uri_problem(self, topic: str, uri: str) -> dict[str, Any] | None:
        if topic in self.refused_topics:
            return {"field": ["topic"], "message": "Invalid topic specified"}
        where = ["webhookSubscription", "uri"]
        if not uri.startswith("https://"):
            return {"field": where, "message": "Address protocol is not supported"}
        if uri in self.subscribed().get(topic, []):
            return {"field": where, "message": TAKEN_ADDRESS}
        return None


def _hook_payload(
    name: str, node: dict[str, Any] | None, problem: dict[str, Any] | None
) -> dict[str, Any]:
    return {name: {"webhookSubscription": node, "userErrors": [problem] if problem else []}}
