"""`cartback serve --no-worker` with separate `cartback worker` processes on one database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.acceptance.processes import Running, free_port
from tests.acceptance.test_serve import (
    API_TOKEN,
    Server,
    checkout_payload,
    encode,
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
    with Server.started(
        ["serve", "--no-worker"],
        config,
        tmp_path,
        "serve",
        port=port,
        token=API_TOKEN,
        outbox=outbox,
    ) as server:
        yield server, config


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
    assert server.sms_lines() == []
    assert server.api("/api/report")["carts_abandoned"] == 0

    # Leaving the block stops both workers with SIGINT; each must exit cleanly with 0.
    with ExitStack() as workers:
        for n in range(2):
            workers.enter_context(Running.started(["worker"], config, tmp_path, f"worker-{n}"))
        sent = server.wait_for(
            "every cart's SMS",
            lambda: lines if len(lines := server.sms_lines()) >= CARTS else None,
        )
        time.sleep(2)  # two more worker passes: nothing may be sent twice
        sent = server.sms_lines()
    assert len(sent) == CARTS
    assert len({line["message_id"] for line in sent}) == CARTS
    assert len({line["to"] for line in sent}) == CARTS
    report = server.api("/api/report")
    assert report["messages_sent"] == CARTS and report["carts_abandoned"] == CARTS
