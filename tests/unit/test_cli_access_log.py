"""The access log of refused webhooks: the store and the reason, never the body."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from cartback.api.access_log import WebhookAccessLog
from cartback.logs import KeyValueFormatter

BODY = b'{"email": "astrid@example.com", "phone": "+4520123456"}'


def app() -> FastAPI:
    made = FastAPI()
    made.add_middleware(WebhookAccessLog)

    @made.post("/webhooks/generic/{store_id}")
    async def today(store_id: str, request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"error": f"the body of {store_id} is wrong"}, status_code=400)

    @made.post("/webhooks/woocommerce/{store_id}")
    async def unified(store_id: str) -> JSONResponse:
        error: dict[str, Any] = {"code": "bad_signature", "message": "no match"}
        return JSONResponse({"error": error}, status_code=401)

    @made.post("/webhooks/magento/{store_id}")
    async def fine(store_id: str) -> JSONResponse:
        return JSONResponse({"status": "processed"})

    @made.post("/webhooks/generic/{store_id}/crash")
    async def crash(store_id: str) -> JSONResponse:
        raise RuntimeError("a bug")

    return made


@pytest.fixture
def client() -> TestClient:
    return TestClient(app(), raise_server_exceptions=False)


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "cartback.access"]


def test_todays_error_shape_gives_the_reason_from_the_status(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        client.post("/webhooks/generic/acme?token=s3cret", content=BODY)
    [record] = records(caplog)
    fields = record.__dict__
    assert (fields["status"], fields["store"], fields["reason"]) == (400, "acme", "unreadable body")
    assert fields["path"] == "/webhooks/generic/acme"  # never the query and its token
    assert "code" not in fields
    line = KeyValueFormatter().format(record)
    assert "astrid" not in line and "4520123456" not in line and "s3cret" not in line


def test_the_unified_error_shape_gives_its_code(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        client.post("/webhooks/woocommerce/shop", content=BODY)
    [record] = records(caplog)
    assert record.__dict__["code"] == "bad_signature"
    assert record.__dict__["reason"] == "wrong signature"


def test_answers_in_2xx_and_other_paths_leave_no_line(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        client.post("/webhooks/magento/shop", content=BODY)
        client.get("/api/nothing")
    assert records(caplog) == []


def test_a_crash_is_logged_as_a_server_error(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        assert client.post("/webhooks/generic/acme/crash", content=BODY).status_code == 500
    [record] = records(caplog)
    assert (record.__dict__["status"], record.__dict__["reason"]) == (500, "server error")
