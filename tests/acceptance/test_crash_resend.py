"""A worker killed with SIGKILL right after the gateway call: nothing is sent twice (issue 14.5).

The killed worker wrote the message's outbox line but never recorded the send. Once its lease
runs out, the surviving worker claims the run and sends the same message id again; the outbox,
like a gateway's idempotency, must keep exactly one line per message id.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.processes import Running, config_yaml
from tests.acceptance.test_serve import (
    ACME_STORE,
    API_TOKEN,
    TEMPLATE,
    Server,
    api_only,
    checkout_payload,
    encode,
)

pytestmark = pytest.mark.acceptance
CARTS = 5

# Loaded by the crashing worker's interpreter only (PYTHONPATH): SIGKILL after the first send.
CRASH_AFTER_SEND = """\
import os, signal
from cartback.channels import outbox

_send = outbox.OutboxGateway.send

def send(self, message):
    result = _send(self, message)
    os.kill(os.getpid(), signal.SIGKILL)
    return result

outbox.OutboxGateway.send = send
"""


def _write_config(path: Path, database_url: str, port: int, outbox: Path) -> None:
    channels = f"""\
  sms:
    provider: outbox
    path: {outbox}
    sender: Acme
    timeout: 1s
"""
    flows = f"""\
  - id: cart-sms
    store: acme
    abandon_after: 2s
    steps:
      - send: sms
        template: "{TEMPLATE}"
"""
    config = config_yaml(
        database_url, port, API_TOKEN, stores=ACME_STORE, channels=channels, flows=flows
    )
    path.write_text(config.replace("worker:\n", "worker:\n  lease: 3s\n"), encoding="utf-8")


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    def write(config: Path, port: int, outbox: Path) -> None:
        _write_config(config, db_url, port, outbox)

    with api_only(tmp_path, write) as running:
        yield running


def _crashing_worker(config: Path, tmp_path: Path) -> int:
    """Run a worker that kills itself right after its first gateway call; its exit code."""
    hooks = tmp_path / "crash-hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(CRASH_AFTER_SEND, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CARTBACK_DATABASE_URL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hooks), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "cartback.cli", "worker", "--config", str(config)]
    with (tmp_path / "crashed.stderr").open("wb") as stderr:
        process = subprocess.run(
            command, stdout=stderr, stderr=stderr, env=env, cwd=tmp_path, timeout=60, check=False
        )
    return process.returncode


def _post_carts(api: Server, numbers: range) -> None:
    for n in numbers:
        payload = checkout_payload(token=f"crash-{n}")
        payload["sms_marketing_phone"] = f"+452013{n:04d}"
        payload["email"] = f"shopper{n}@example.com"  # different people: no cooldown between them
        assert api.webhook("checkouts/create", encode(payload)).status_code == 200


def test_a_worker_killed_after_the_gateway_call_sends_nothing_twice(
    server: tuple[Server, Path], tmp_path: Path
) -> None:
    api, config = server
    _post_carts(api, range(1))
    with Running.started(["worker"], config, tmp_path, "survivor") as survivor:
        # The survivor has written to the outbox before: what it knows of the file is older
        # than the line the other worker is about to write.
        api.wait_for("the first cart's SMS", lambda: len(api.sms_lines()) == 1)
        time.sleep(0.5)
        survivor.process.send_signal(signal.SIGSTOP)  # so that the other worker claims the rest
        try:
            _post_carts(api, range(1, CARTS + 1))
            time.sleep(2.5)  # abandon_after is 2s: every cart is due when the other one starts
            assert _crashing_worker(config, tmp_path) == -signal.SIGKILL
            assert len(api.sms_lines()) == 2  # it called the gateway once, then it died
        finally:
            survivor.process.send_signal(signal.SIGCONT)
        api.wait_for(
            "every cart's SMS after the lease ran out",
            lambda: len({line["message_id"] for line in api.sms_lines()}) == CARTS + 1,
        )
        time.sleep(2)  # two more passes of the worker: nothing may be sent again
    per_id = Counter(line["message_id"] for line in api.sms_lines())
    assert len(per_id) == CARTS + 1 and set(per_id.values()) == {1}, per_id
    statuses = {m["id"]: m["status"] for m in api.api("/api/messages")}
    assert statuses == dict.fromkeys(per_id, "sent")
