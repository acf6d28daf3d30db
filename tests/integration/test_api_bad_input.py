"""The API's own inputs at their limits, on both databases: a 422 naming the parameter, never a
500 from the database (issue 14.1, behind the token)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from cartback.api.app import create_app
from tests.integration.conftest import TOKEN, Shop
from tests.integration.test_dashboard import log_in

AUTH = {"Authorization": f"Bearer {TOKEN}"}
BIG = 2**63
YEAR_ONE = "0001-01-01T00:00:00+01:00"


def _get(shop: Shop, path: str, **params: Any) -> Any:
    return shop.client.get(path, params=params, headers=AUTH)


@pytest.mark.parametrize(
    ("path", "params", "names"),
    [
        ("/api/carts", {"offset": BIG}, "offset"),
        ("/api/messages", {"offset": BIG}, "offset"),
        ("/api/carts", {"after": BIG}, "after"),
        ("/api/deliveries", {"after": 0}, "after"),
        ("/api/messages", {"after": "m\x00"}, "after"),
        (f"/api/carts/{BIG}", {}, "cart_id"),
        ("/api/report", {"since": YEAR_ONE}, "since"),
        ("/api/carts", {"store": "acme\x00"}, "store"),
        ("/api/messages", {"status": "sent\x00"}, "status"),
        ("/api/deliveries", {"store": "\x00"}, "store"),
        ("/api/contacts/a%00b@example.com", {}, "contact_id"),
    ],
    ids=[
        "carts-offset",
        "messages-offset",
        "carts-after",
        "deliveries-after",
        "messages-after",
        "cart-id",
        "report-since",
        "carts-nul",
        "messages-nul",
        "deliveries-nul",
        "contact-nul",
    ],
)
def test_a_parameter_out_of_bounds_is_a_422_naming_it(
    shop: Shop, path: str, params: dict[str, Any], names: str
) -> None:
    response = _get(shop, path, **params)
    assert response.status_code == 422, response.text
    assert names in response.json()["error"]["message"]


def test_the_largest_cart_id_is_simply_not_found(shop: Shop) -> None:
    assert _get(shop, f"/api/carts/{BIG - 1}").status_code == 404


def _touch(sent_at: str, source: str = "newsletter") -> dict[str, Any]:
    return {"channel": "sms", "phone": "+4520123456", "sent_at": sent_at, "source": source}


@pytest.mark.parametrize(
    ("path", "body", "names"),
    [
        ("/api/touches", {"touches": [_touch(YEAR_ONE)]}, "sent_at"),
        ("/api/touches", {"touches": [_touch("2026-11-30T10:00:00Z", "a\x00b")]}, "source"),
        (
            "/api/consent",
            {
                "store": "acme",
                "channel": "sms",
                "granted": True,
                "phone": "+4520123456",
                "occurred_at": YEAR_ONE,
                "wording": "Yes, text me",
            },
            "occurred_at",
        ),
        (
            "/api/consent",
            {
                "store": "acme",
                "channel": "sms",
                "granted": True,
                "phone": "+4520123456",
                "wording": "Yes\x00",
            },
            "wording",
        ),
    ],
    ids=["touch-year-one", "touch-nul", "consent-year-one", "consent-nul"],
)
def test_a_body_out_of_bounds_is_a_422_naming_the_field(
    shop: Shop, path: str, body: dict[str, Any], names: str
) -> None:
    response = shop.client.post(path, json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert names in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard?since=0001-01-01",
        "/dashboard/carts?since=0001-01-01&until=9999-12-31",
        "/dashboard/carts?q=%00",
        "/dashboard/carts?store=%00",
        f"/dashboard/carts/{BIG}",
        f"/dashboard/messages?offset={BIG}",
        "/dashboard/contact?q=%2B4520123456%00",
    ],
)
def test_dashboard_filters_at_their_limits_are_no_server_error(shop: Shop, path: str) -> None:
    with TestClient(create_app(shop.runtime), base_url="https://testserver") as client:
        log_in(client)
        answer = client.get(path, follow_redirects=False)
    assert answer.status_code < 500, answer.text
