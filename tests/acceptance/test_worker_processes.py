"""`cartback serve --no-worker` with separate `cartback worker` processes on one database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.acceptance.processes import Running
from tests.acceptance.test_serve import (
    Server,
    api_only,
    checkout_payload,
    encode,
    write_config,
)

pytestmark = pytest.mark.acceptance
CARTS = 30


@pytest.fixture
def api_server(db_url: str, tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    def write(config: Path, port: int, outbox: Path) -> None:
        write_config(config, db_url, port, outbox)

    with api_only(tmp_path, write) as running:
        yield running


def test_the_api_alone_sends_nothing_and_two_workers_send_each_step_once(
    api_server: tuple[Server, Path], tmp_path: Path
) -> None:
    server, config = api_server
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
