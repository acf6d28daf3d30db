"""A real `cartback serve --log-format json`: readiness, metrics, request ids in JSON log lines,
and a config reloaded by SIGHUP (a bad one kept out) without a restart."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest

from tests.acceptance.processes import Running, config_yaml, free_port

pytestmark = pytest.mark.acceptance

TOKEN = "ops-admin-token"
STORE = """\
  - id: acme
    platform: generic
    webhook_secret: generic-secret
    name: Acme
{extra}"""
CHANNELS = """\
  sms:
    provider: outbox
    path: outbox.jsonl
    sender: Acme
"""
FLOWS = """\
  - id: cart-sms
    store: acme
    abandon_after: 30m
    steps:
      - send: sms
"""


def write(path: Path, port: int, extra: str = "") -> None:
    url = f"sqlite:///{path.parent / 'cartback.db'}"
    stores = STORE.format(extra=extra)
    path.write_text(config_yaml(url, port, TOKEN, stores=stores, channels=CHANNELS, flows=FLOWS))


def json_lines(server: Running) -> list[dict[str, object]]:
    found = []
    for line in server.stderr().splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def test_serve_reports_its_state_and_reloads_its_config(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "cartback.yaml"
    write(config, port)
    args = ["serve", "--log-format", "json"]
    with Running.started(args, config, tmp_path, "serve", port=port, token=TOKEN) as server:
        ready = server.http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        assert server.http.get("/metrics").status_code == 401
        metrics = server.http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert "cartback_due_backlog 0.0" in metrics.text

        refused = server.http.post(
            "/webhooks/generic/acme", content=b"{}", headers={"X-Request-Id": "shop-req-1"}
        )
        assert refused.status_code == 401 and refused.headers["X-Request-Id"] == "shop-req-1"
        line = server.wait_for(
            "the refused webhook's JSON log line",
            lambda: next((j for j in json_lines(server) if j.get("status") == 401), None),
        )
        assert line["request_id"] == "shop-req-1" and line["logger"] == "cartback.access"

        store_token = {"Authorization": "Bearer acme-own-token"}
        assert server.http.get("/api/carts", headers=store_token).status_code == 401
        write(config, port, extra="    api_token: acme-own-token\n")
        server.process.send_signal(signal.SIGHUP)
        server.wait_for(
            "the store's token to work after SIGHUP",
            lambda: server.http.get("/api/carts", headers=store_token).status_code == 200,
        )

        config.write_text(config.read_text().replace("abandon_after: 30m", "abandon_after: 30x"))
        server.process.send_signal(signal.SIGHUP)
        kept = server.wait_for(
            "the refused reload's log line",
            lambda: next(
                (j for j in json_lines(server) if "config not reloaded" in str(j["message"])),
                None,
            ),
        )
        assert "abandon_after: '30x' is not a duration" in str(kept["message"])
        assert server.http.get("/api/carts", headers=store_token).status_code == 200


def test_a_worker_serves_its_metrics_on_its_own_port(tmp_path: Path) -> None:
    config = tmp_path / "cartback.yaml"
    write(config, free_port())
    metrics_port = free_port()
    args = ["worker", "--metrics-port", str(metrics_port)]
    with Running.started(args, config, tmp_path, "worker") as worker:

        def page() -> str | None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2)
            except httpx.TransportError:
                return None
            return answer.text if answer.status_code == 200 else None

        text = worker.wait_for("the worker's metrics page", page)
        assert "cartback_due_backlog 0.0" in text
        assert "cartback_sends_total" in text
