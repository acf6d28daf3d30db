"""`/metrics`, `/readyz`, request ids and JSON logs, on both databases."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cartback import logs
from cartback.api.app import create_app
from cartback.channels.base import SendResult, SendStatus
from cartback.clock import FakeClock
from cartback.runtime import build
from cartback.store.db import connect
from cartback.store.migrate import upgrade
from cartback.testing import InMemoryStore
from tests.integration.conftest import CONFIG, TOKEN, Shop, make_runtime

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def samples(client: TestClient, headers: dict[str, str] = AUTH) -> dict[str, float]:
    """`name{label="value",...}` → value, for every sample on the page."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def test_metrics_need_the_token_unless_public(shop: Shop, db_url: str, tmp_path: Path) -> None:
    answer = shop.client.get("/metrics")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    assert shop.client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert "cartback_due_backlog" in samples(shop.client)

    public = CONFIG + "metrics: {{public: true}}\n"
    runtime, _clock, _sms = make_runtime(db_url, tmp_path, public)
    with TestClient(create_app(runtime)) as client:
        assert "cartback_due_backlog" in samples(client, headers={})
    runtime.store.close()


def test_a_cart_from_webhook_to_sms_is_counted(shop: Shop) -> None:
    checkout = shop.checkout()
    shop.post("checkouts/update", checkout)  # the same cart again
    bad = shop.client.post(
        "/webhooks/shopify",
        content=b"{}",
        headers={"X-Shopify-Shop-Domain": "acme.myshopify.com", "X-Shopify-Hmac-Sha256": "x"},
    )
    assert bad.status_code == 401
    before = samples(shop.client)
    assert before['cartback_webhooks_total{platform="shopify",status="200"}'] == 2
    assert before['cartback_webhooks_total{platform="shopify",status="401"}'] == 1
    assert before['cartback_deliveries_total{outcome="applied"}'] == 2
    assert before["cartback_due_backlog"] == 0

    shop.clock.advance(timedelta(minutes=45))  # 15 minutes after the cart was abandoned
    due = samples(shop.client)
    assert due["cartback_due_backlog"] == 1
    assert due["cartback_oldest_due_age_seconds"] == pytest.approx(15 * 60)

    assert shop.tick() == 1
    after = samples(shop.client)
    assert after["cartback_due_backlog"] == 0
    assert after['cartback_sends_total{channel="sms",gateway="fake-sms",outcome="sent"}'] == 1
    assert after['cartback_gateway_call_seconds_count{gateway="fake-sms"}'] == 1
    assert after['cartback_gateway_breaker_open{gateway="fake-sms"}'] == 0
    assert after["cartback_due_to_sent_seconds_count"] == 1
    assert after["cartback_due_to_sent_seconds_sum"] == pytest.approx(15 * 60)
    assert after['cartback_decisions_total{action="send",reason="ok"}'] == 1
    assert after['cartback_decisions_total{action="abandon",reason="abandoned"}'] == 1


def test_a_failing_gateway_shows_its_breaker_open_while_it_rests(shop: Shop) -> None:
    shop.sms.respond = lambda _message: SendResult(SendStatus.RETRY, error="HTTP 503")
    shop.checkout()
    shop.clock.advance(timedelta(minutes=31))
    for _ in range(3):  # three failures in a row: the gateway rests for a minute
        shop.clock.advance(timedelta(minutes=20))
        shop.tick()
    found = samples(shop.client)
    assert found['cartback_sends_total{channel="sms",gateway="fake-sms",outcome="retry"}'] == 3
    assert found['cartback_gateway_breaker_open{gateway="fake-sms"}'] == 1
    shop.clock.advance(timedelta(minutes=2))  # the rest is over, though nothing was sent since
    assert samples(shop.client)['cartback_gateway_breaker_open{gateway="fake-sms"}'] == 0


def test_each_app_counts_for_itself(db_url: str, tmp_path: Path) -> None:
    first, _c1, _g1 = make_runtime(db_url, tmp_path)
    second, _c2, _g2 = make_runtime(db_url, tmp_path)
    with TestClient(create_app(first)) as one, TestClient(create_app(second)) as two:
        one.post("/webhooks/shopify", content=b"{}")
        counted = samples(one)
        assert counted['cartback_webhooks_total{platform="shopify",status="404"}'] == 1
        assert not any(name.startswith("cartback_webhooks_total{") for name in samples(two))
    first.store.close()
    second.store.close()


def test_request_ids_are_answered_and_logged(shop: Shop) -> None:
    made = shop.client.get("/healthz")
    assert len(made.headers["X-Request-Id"]) == 32
    given = shop.client.get("/healthz", headers={"X-Request-Id": "lb-1234.5"})
    assert given.headers["X-Request-Id"] == "lb-1234.5"
    odd = shop.client.get("/healthz", headers={"X-Request-Id": "a b\tc"})
    assert odd.headers["X-Request-Id"] != "a b\tc"

    stream = io.StringIO()
    access = logging.getLogger("cartback.access")
    access.addHandler(handler := logs.stream_handler(stream, "json"))
    try:
        shop.client.post("/webhooks/shopify", content=b"{}", headers={"X-Request-Id": "req-77"})
    finally:
        access.removeHandler(handler)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["request_id"] == "req-77"
    assert line["level"] == "WARNING"
    assert line["status"] == 404
    assert line["message"] == "webhook answered 404"


def test_json_log_lines_keep_masked_fields_and_exceptions() -> None:
    record = logging.makeLogRecord(
        {"name": "cartback.sender", "levelname": "INFO", "msg": "sent %s", "args": ("ok",)}
    )
    record.to = "+45******56"
    line = json.loads(logs.JsonFormatter().format(record))
    assert line == {
        "time": line["time"],
        "level": "INFO",
        "logger": "cartback.sender",
        "message": "sent ok",
        "to": "+45******56",
    }
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert "ValueError: boom" in json.loads(logs.JsonFormatter().format(record))["exception"]


def test_readyz_checks_the_schema(shop: Shop, tmp_path: Path) -> None:
    ready = shop.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"

    old = f"sqlite:///{tmp_path / 'old.db'}"
    engine = connect(old)
    upgrade(engine, "0005")
    engine.dispose()
    settings = shop.runtime.settings.model_copy(update={"database_url": old})
    runtime = build(settings, clock=FakeClock())
    with TestClient(create_app(runtime)) as client:
        answer = client.get("/readyz")
        assert answer.status_code == 503
        error = answer.json()["error"]
        assert error["code"] == "not_ready"
        assert "cartback migrate" in error["message"]
        assert client.get("/healthz").status_code == 200  # alive, only not ready
    runtime.store.close()


def test_readyz_without_a_database_answers_503(shop: Shop) -> None:
    class Down(InMemoryStore):
        def ping(self) -> None:
            raise ConnectionError("no route to host 10.0.0.5")

    runtime = build(shop.runtime.settings, clock=FakeClock(), store=Down())
    with TestClient(create_app(runtime)) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["error"]["message"] == "the database does not answer (ConnectionError)"


@pytest.fixture
def memory_client(shop: Shop) -> Iterator[TestClient]:
    runtime = build(shop.runtime.settings, clock=FakeClock(), store=InMemoryStore())
    with TestClient(create_app(runtime)) as client:
        yield client


def test_readyz_in_memory_is_ready(memory_client: TestClient) -> None:
    assert memory_client.get("/readyz").status_code == 200


EXPERIMENTED = CONFIG.replace(
    "    abandon_after: 30m\n",
    "    abandon_after: 30m\n"
    "    holdout: 50%\n"
    "    experiment: {{id: delay, arms: [{{name: fast, abandon_after: 20m}},"
    " {{name: slow, abandon_after: 25m}}]}}\n",
    1,
)


def test_holdout_and_arm_assignments_are_counted_once_per_cart(db_url: str, tmp_path: Path) -> None:
    runtime, clock, _sms = make_runtime(db_url, tmp_path, EXPERIMENTED)
    with TestClient(create_app(runtime)) as client:
        shop = Shop(runtime, client, clock, _sms)
        for n in range(4):
            shop.checkout(token=f"cart-{n}", sms_marketing_phone=f"+452012000{n}")
        shop.clock.advance(timedelta(minutes=30))
        while shop.tick():
            pass
        found = samples(client)
    runtime.store.close()
    groups = {k: v for k, v in found.items() if k.startswith("cartback_holdout_assignments_total")}
    arms = {k: v for k, v in found.items() if k.startswith("cartback_experiment_assignments_total")}
    assert sum(groups.values()) == 4 and set(groups) <= {
        'cartback_holdout_assignments_total{group="holdout"}',
        'cartback_holdout_assignments_total{group="treated"}',
    }
    assert sum(arms.values()) == 4
    assert set(arms) <= {
        'cartback_experiment_assignments_total{arm="fast",experiment="delay"}',
        'cartback_experiment_assignments_total{arm="slow",experiment="delay"}',
    }
