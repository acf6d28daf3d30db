"""`cartback serve --no-worker` with separate `cartback worker` processes on one database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.acceptance.test_serve import (
    Server,
    _stop,
    checkout_payload,
    encode,
    free_port,
    wait_until_healthy,
    write_config,
)

pytestmark = pytest.mark.acceptance
CARTS = 30


@pytest.fixture
def api_only(db_url: str, tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    port = free_port()
    outbox = tmp_path / "outbox.jsonl"
    config = tmp_path / "cartback.yaml"
    write_config(config, db_url, port, outbox)
    stderr_path = tmp_path / "serve.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cartback.cli",
                "serve",
                "--config",
                str(config),
                "--port",
                str(port),
                "--no-worker",
            ],
            stdout=stderr,
            stderr=stderr,
            env=_env(),
            cwd=tmp_path,
        )
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0)
    server = Server(process, port, outbox, stderr_path, http)
    try:
        wait_until_healthy(http, process, stderr_path)
        yield server, config
    finally:
        http.close()
        assert _stop(process) == 0, server.stderr()


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CARTBACK_DATABASE_URL"}


def _worker(config: Path, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    log = (tmp_path / f"{name}.stderr").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "cartback.cli", "worker", "--config", str(config)],
        stdout=log,
        stderr=log,
        env=_env(),
        cwd=tmp_path,
    )


def _lines(outbox: Path) -> list[dict[str, object]]:
    if not outbox.exists():
        return []
    return [json.loads(line) for line in outbox.read_text().splitlines() if line.strip()]


def test_the_api_alone_sends_nothing_and_two_workers_send_each_step_once(
    api_only: tuple[Server, Path], tmp_path: Path
) -> None:
    server, config = api_only
    for n in range(CARTS):
        payload = checkout_payload(token=f"race-{n}")
        payload["sms_marketing_phone"] = f"+452012{n:04d}"
        payload["email"] = f"shopper{n}@example.com"
        answer = server.webhook("checkouts/create", encode(payload))
        assert answer.status_code == 200, answer.text

    # abandon_after is 2s: with no worker running, the carts stay open and nothing is sent.
    time.sleep(4)
    assert _lines(server.outbox) == []
    assert server.api("/api/report")["carts_abandoned"] == 0

    workers = [_worker(config, tmp_path, f"worker-{n}") for n in range(2)]
    try:
        sent = server.wait_for(
            "every cart's SMS",
            lambda: lines if len(lines := _lines(server.outbox)) >= CARTS else None,
        )
        time.sleep(2)  # two more worker passes: nothing may be sent twice
        sent = _lines(server.outbox)
    finally:
        codes = [_stop(worker) for worker in workers]
    assert codes == [0, 0], "workers must stop cleanly on SIGINT"
    assert len(sent) == CARTS
    assert len({line["message_id"] for line in sent}) == CARTS
    assert len({line["to"] for line in sent}) == CARTS
    report = server.api("/api/report")
    assert report["messages_sent"] == CARTS and report["carts_abandoned"] == CARTS
