"""A shop webhook is answered past the framework's layers (`api/lean.py`), and its answers are
those of the whole way: every request below is made once each way, and both must give the
statuses, bodies, log lines and counts written here."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.api.lean import WebhookApp
from cartback.api.limits import MAX_BODY
from cartback.integrations import shopify
from cartback.runtime import Runtime
from tests.integration.conftest import DOMAIN, SECRET, TOKEN, checkout_payload, make_runtime


def _signed(body: bytes, *, webhook_id: str, secret: str = SECRET) -> dict[str, str]:
    return {
        shopify.TOPIC_HEADER: "checkouts/update",
        shopify.SHOP_DOMAIN_HEADER: DOMAIN,
        shopify.HMAC_HEADER: shopify.sign(body, secret),
        shopify.WEBHOOK_ID_HEADER: webhook_id,
        "Content-Type": "application/json",
    }


class _Seen:
    """Counts the requests that went the whole way (through the app's full middleware stack)."""

    def __init__(self, app: WebhookApp) -> None:
        self.paths: list[str] = []
        self.inner = app.middleware_stack
        app.middleware_stack = self  # type: ignore[assignment]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        assert self.inner is not None
        await self.inner(scope, receive, send)


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[WebhookApp, Runtime]]:
    runtime, _clock, _gateway = make_runtime(db_url, tmp_path)
    yield create_app(runtime), runtime
    runtime.store.close()


def _answers(client: TestClient, runtime: Runtime) -> list[tuple[int, Any]]:
    body = b'{"token": "short-path", ' + (
        b'"updated_at": "%s"}' % runtime.clock.now().isoformat().encode()
    )
    good_body = json.dumps(checkout_payload(runtime.clock.now())).encode()
    calls = [
        ("POST", "/webhooks/shopify", good_body, _signed(good_body, webhook_id="w-1")),
        ("POST", "/webhooks/shopify", good_body, _signed(good_body, webhook_id="w-1")),
        ("POST", "/webhooks/shopify", body, _signed(body, webhook_id="w-2", secret="wrong")),
        ("POST", "/webhooks/shopify", b"{not json", _signed(b"{not json", webhook_id="w-3")),
        ("POST", "/webhooks/generic/nobody", b"{}", {}),
        ("POST", "/webhooks/generic/nobody", b"x" * (MAX_BODY + 1), {}),
        ("GET", "/webhooks/shopify", b"", {}),
    ]
    answers = []
    for method, path, content, headers in calls:
        response = client.request(method, path, content=content, headers=headers)
        assert len(response.headers["X-Request-Id"]) == 32
        answers.append((response.status_code, response.json()))
    return answers


EXPECTED_CODES = [
    (200, "received"),
    (200, "duplicate"),
    (401, "bad_signature"),
    (400, "unreadable_body"),
    (404, "unknown_store"),
    (413, "body_too_large"),
    (405, "method_not_allowed"),
]


def _code(answer: Any) -> str:
    return answer["status"] if "status" in answer else answer["error"]["code"]


@pytest.mark.parametrize("short", [True, False], ids=["short path", "whole way"])
def test_the_answers_are_those_of_the_whole_way(
    served: tuple[WebhookApp, Runtime], short: bool, caplog: pytest.LogCaptureFixture
) -> None:
    app, runtime = served
    app.short_path = short
    caplog.set_level(logging.WARNING, logger="cartback.access")
    with TestClient(app) as client:
        seen = _Seen(app)
        answers = _answers(client, runtime)
        page = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text

    assert [(status, _code(answer)) for status, answer in answers] == EXPECTED_CODES
    assert answers[1][1]["delivery_id"] == answers[0][1]["delivery_id"]
    unreadable = answers[3][1]
    assert unreadable["stored"] is True and isinstance(unreadable["delivery_id"], int)
    # the access log: one line per refusal, with its reason and code
    logged = [
        (r.status, r.reason, getattr(r, "code", None))  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "cartback.access"
    ]
    assert logged == [
        (401, "wrong signature", "bad_signature"),
        (400, "unreadable body", "unreadable_body"),
        (404, "unknown store", "unknown_store"),
        (413, "body too large", "body_too_large"),
        (405, "wrong method", "method_not_allowed"),
    ]
    for platform, status, count in [
        ("shopify", 200, 2),
        ("shopify", 401, 1),
        ("shopify", 400, 1),
        ("generic", 404, 1),
        ("generic", 413, 1),
        ("shopify", 405, 1),
    ]:
        line = f'cartback_webhooks_total{{platform="{platform}",status="{status}"}} {count}.0'
        assert line in page
    # the short path took every POST that a webhook route takes wholly; the rest went the
    # whole way (the wrong method, the metrics page)
    posts = [
        "/webhooks/shopify",
        "/webhooks/shopify",
        "/webhooks/shopify",
        "/webhooks/shopify",
        "/webhooks/generic/nobody",
        "/webhooks/generic/nobody",
    ]
    always = ["/webhooks/shopify", "/metrics"]
    assert seen.paths == (always if short else [*posts, *always])


@pytest.mark.parametrize("short", [True, False], ids=["short path", "whole way"])
def test_an_unexpected_error_is_a_500_in_the_shape_and_raised_on(
    served: tuple[WebhookApp, Runtime],
    short: bool,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, runtime = served
    app.short_path = short

    async def broken(delivery: Any) -> Any:
        raise RuntimeError("the recorder broke")

    monkeypatch.setattr(runtime.recorder, "record", broken)
    body = b'{"token": "t-500"}'
    headers = _signed(body, webhook_id=str(uuid.uuid4()))
    caplog.set_level(logging.WARNING, logger="cartback.access")
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post("/webhooks/shopify", content=body, headers=headers)
        page = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"
    assert "the recorder broke" not in answer.text
    assert 'cartback_webhooks_total{platform="shopify",status="500"} 1.0' in page
    assert [r.status for r in caplog.records if r.name == "cartback.access"] == [500]  # type: ignore[attr-defined]

    with (
        TestClient(app, raise_server_exceptions=True) as client,
        pytest.raises(RuntimeError, match="the recorder broke"),
    ):
        client.post("/webhooks/shopify", content=body, headers=headers)


def test_with_opentelemetry_configured_a_webhook_goes_the_whole_way(
    served: tuple[WebhookApp, Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _runtime = served
    telemetry = getattr(app, "_native_telemetry", None)
    if telemetry is None:
        pytest.skip("this FastAPI has no telemetry of its own")
    monkeypatch.setattr(telemetry, "enabled", lambda: True)
    body = b'{"token": "traced"}'
    with TestClient(app) as client:
        seen = _Seen(app)
        answer = client.post(
            "/webhooks/shopify", content=body, headers=_signed(body, webhook_id="w-t")
        )
    assert answer.status_code == 200
    assert seen.paths == ["/webhooks/shopify"]
