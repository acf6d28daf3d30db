"""The webhooks are answered by bare ASGI routes placed before FastAPI's, which still describe
them in the OpenAPI document; the answers are those of any route: request id, error shape,
metrics, the query kept for the platforms that read it."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Match

from cartback.integrations import shopify
from tests.integration.conftest import DOMAIN, Shop, checkout_payload


def _first_full_match(shop: Shop, method: str, path: str) -> Any:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    app: Any = shop.client.app
    return next(route for route in app.router.routes if route.matches(scope)[0] == Match.FULL)


def test_a_webhook_is_answered_by_its_bare_route_and_still_described(shop: Shop) -> None:
    route = _first_full_match(shop, "POST", "/webhooks/shopify")
    assert not isinstance(route, APIRoute) and not route.include_in_schema
    answer = shop.post("checkouts/update", checkout_payload(shop.clock.now()))
    assert answer.status_code == 200 and answer.json()["status"] == "received"
    assert len(answer.headers["X-Request-Id"]) == 32
    paths = shop.client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/webhooks/shopify"] and "post" in paths["/webhooks/generic/{store_id}"]


def test_its_refusals_keep_the_error_shape_and_are_counted(shop: Shop) -> None:
    body = b'{"token": "t"}'
    headers = {
        shopify.TOPIC_HEADER: "checkouts/update",
        shopify.SHOP_DOMAIN_HEADER: DOMAIN,
        shopify.HMAC_HEADER: shopify.sign(body, "not-the-secret"),
    }
    refused = shop.client.post("/webhooks/shopify", content=body, headers=headers)
    assert refused.status_code == 401 and refused.json()["error"]["code"]
    wrong_method = shop.client.get("/webhooks/shopify")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"]
    unknown = shop.client.post("/webhooks/generic/nobody", content=b"{}")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"]
    page = shop.client.get(
        "/metrics", headers={"Authorization": f"Bearer {shop.runtime.settings.api_token}"}
    ).text
    assert 'cartback_webhooks_total{platform="shopify",status="401"} 1.0' in page
    assert 'cartback_webhooks_total{platform="shopify",status="405"} 1.0' in page
