"""Every error answer cartback gives has one shape: `{"error": {"code", "message"}}`.

The routes are walked from `app.routes`, so a route added later is checked without anyone
remembering to: each is called without auth, with a body that cannot be read and with an empty
one, and every 4xx/5xx answer must carry the shape. Unknown routes, wrong methods, too-large
bodies and a real bug are checked beside them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.api.limits import MAX_BODY
from cartback.integrations import shopify
from cartback.runtime import Runtime
from tests.integration.conftest import DOMAIN, SECRET, TOKEN, make_runtime

CODE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Routes that have no way to fail from outside (health, the docs).
NEVER_REFUSE = {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
# Pages for people, in a browser: they answer in HTML, as the unsubscribe page does.
PAGES = ("/dashboard", "/login", "/logout")


def _for_people(path: str) -> bool:
    return path == "/" or any(path == page or path.startswith(page + "/") for page in PAGES)


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[tuple[FastAPI, Runtime]]:
    runtime, _clock, _gateway = make_runtime(db_url, tmp_path)
    yield create_app(runtime), runtime
    runtime.store.close()


def assert_error_shape(response: httpx.Response, where: str) -> None:
    assert response.headers["content-type"].startswith("application/json"), where
    body: Any = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), (where, body)
    error = body["error"]
    assert set(error) == {"code", "message"}, (where, body)
    assert CODE.fullmatch(error["code"]), (where, body)
    assert isinstance(error["message"], str) and error["message"].strip(), (where, body)


def _calls(path: str) -> list[dict[str, Any]]:
    url = re.sub(r"\{[^}]+\}", "nope", path)
    json_accept = {"Accept": "application/json"}
    authed = {**AUTH, **json_accept}
    return [
        {"url": url, "headers": json_accept},
        {"url": url, "headers": {**authed, "Content-Type": "application/json"}, "content": b"{x"},
        {"url": url, "headers": authed, "json": {}},
        {"url": url + "?limit=0&since=yesterday", "headers": authed},
    ]


def test_every_route_answers_errors_in_the_one_shape(app: tuple[FastAPI, Runtime]) -> None:
    application, _runtime = app
    refused: set[str] = set()
    # app.routes, with the included routers' routes as the app serves them
    routes = [
        (context.path or "", sorted(context.methods or ()))
        for context in iter_route_contexts(application.routes)
        if isinstance(context.original_route, APIRoute) and not _for_people(context.path or "")
    ]
    assert len(routes) >= 15  # webhooks, gateway callbacks, links, unsubscribe, the API

    with TestClient(application, raise_server_exceptions=False) as client:
        for path, methods in routes:
            for method in methods:
                for call in _calls(path):
                    response = client.request(method, **call)
                    where = f"{method} {call['url']} -> {response.status_code}"
                    assert response.status_code < 500, (where, response.text)
                    if response.status_code >= 400 and method != "HEAD":  # HEAD has no body
                        assert_error_shape(response, where)
                        refused.add(path)

    assert {path for path, _methods in routes} - refused <= NEVER_REFUSE


def test_unknown_routes_wrong_methods_and_huge_bodies_have_the_shape(
    app: tuple[FastAPI, Runtime],
) -> None:
    application, _runtime = app
    with TestClient(application) as client:
        unknown = client.get("/no/such/page")
        wrong = client.get("/webhooks/shopify")
        huge = client.post("/webhooks/generic/nope", content=b"x" * (MAX_BODY + 1))

    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    assert unknown.json()["error"]["message"] == "nothing is at GET /no/such/page"
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "body_too_large")
    for response in (unknown, wrong, huge):
        assert_error_shape(response, str(response.request.url))


def test_api_errors_name_the_problem_with_a_stable_code(app: tuple[FastAPI, Runtime]) -> None:
    application, _runtime = app
    with TestClient(application) as client:
        no_token = client.get("/api/carts")
        no_cart = client.get("/api/carts/999", headers=AUTH)
        bad_limit = client.get("/api/carts?limit=0", headers=AUTH)
        no_link = client.get("/r/abcdef", follow_redirects=False)

    assert (no_token.status_code, no_token.json()["error"]["code"]) == (401, "unauthorized")
    assert no_token.headers["www-authenticate"] == "Bearer"
    assert no_cart.json() == {"error": {"code": "not_found", "message": "no cart with id 999"}}
    assert (bad_limit.status_code, bad_limit.json()["error"]["code"]) == (422, "invalid_request")
    assert bad_limit.json()["error"]["message"].startswith("query.limit: ")
    assert bad_limit.json()["problems"][0]["loc"] == ["query", "limit"]
    assert (no_link.status_code, no_link.json()["error"]["code"]) == (404, "not_found")


def test_a_bug_answers_internal_error_without_leaking_it(
    app: tuple[FastAPI, Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    application, runtime = app

    def broken(*_args: object) -> object:
        raise RuntimeError("detail of a bug: postgresql://user:pw@db")

    async def broken_on_the_loop(*_args: object) -> object:
        return broken()

    # The recorder's threads (SQLite) or the server's loop (PostgreSQL) store the delivery.
    monkeypatch.setattr(runtime.ingest, "record_many", broken)
    monkeypatch.setattr(runtime.ingest, "record_on_loop", broken_on_the_loop)
    body = b'{"token": "t1"}'
    headers = {
        shopify.SHOP_DOMAIN_HEADER: DOMAIN,
        shopify.HMAC_HEADER: shopify.sign(body, SECRET),
        shopify.TOPIC_HEADER: "checkouts/create",
    }
    with TestClient(application, raise_server_exceptions=False) as client:
        crashed = client.post("/webhooks/shopify", content=body, headers=headers)

    assert crashed.status_code == 500
    assert crashed.json()["error"]["code"] == "internal_error"
    assert "detail of a bug" not in crashed.text and "postgresql" not in crashed.text


def test_the_unsubscribe_page_is_html_for_people_and_json_for_clients(
    app: tuple[FastAPI, Runtime],
) -> None:
    application, _runtime = app
    with TestClient(application) as client:
        browser = client.get("/u/not-a-token", headers={"Accept": "text/html,*/*;q=0.8"})
        api_client = client.get("/u/not-a-token", headers={"Accept": "application/json"})
        one_click = client.post("/u/not-a-token")

    assert browser.status_code == 404 and browser.headers["content-type"].startswith("text/html")
    assert "This unsubscribe link is not valid." in browser.text
    for answer in (api_client, one_click):
        assert answer.status_code == 404
        assert answer.json()["error"] == {
            "code": "not_found",
            "message": "This unsubscribe link is not valid.",
        }
