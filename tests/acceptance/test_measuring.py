"""A real `cartback serve` measuring what its flow earns: a holdout and an A/B test of the SMS,
checkouts and orders sent as Shopify signs them, SMS in the outbox file, a link preview's click,
and the report read over HTTP and printed by `cartback report --by arm --format table`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.processes import config_yaml, free_port
from tests.acceptance.test_serve import (
    ACME_STORE,
    API_TOKEN,
    Server,
    checkout_payload,
    encode,
    order_payload,
)

pytestmark = pytest.mark.acceptance

CARTS = 12
FLOW = """\
  - id: cart-sms
    store: acme
    abandon_after: 2s
    holdout: 25%
    steps:
      - send: sms
        variants:
          - {name: plain, template: "Your basket at {{ store_name }} is saved: {{ link }}"}
          - {name: warm, template: "Hi {{ first_name }}, it is all still here: {{ link }}"}
"""


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    outbox = tmp_path / "outbox.jsonl"
    channels = f"  sms:\n    provider: outbox\n    path: {outbox}\n    sender: Acme\n"
    channels += "    cost_per_segment: 0.30\n"
    config = tmp_path / "cartback.yaml"
    config.write_text(
        config_yaml(db_url, port, API_TOKEN, stores=ACME_STORE, channels=channels, flows=FLOW)
    )
    with Server.started(
        ["serve"], config, tmp_path, "server", port=port, token=API_TOKEN, outbox=outbox
    ) as running:
        yield running


def assigned(server: Server) -> list[dict[str, Any]] | None:
    carts = [server.api(f"/api/carts/{c['id']}") for c in server.api("/api/carts", store="acme")]
    done = [c for c in carts if c["run"] and c["run"]["held_out"] is not None]
    return done if len(done) == CARTS else None


def test_the_report_over_http_measures_the_holdout_the_arms_and_bot_clicks(
    server: Server, tmp_path: Path
) -> None:
    checkouts = []
    for n in range(CARTS):
        checkout = checkout_payload(token=f"measured-{n}")
        checkout["sms_marketing_phone"] = f"+452012{n:04d}"  # one person per cart
        checkout["email"] = checkout["customer"]["email"] = f"shopper{n}@example.com"
        checkouts.append(checkout)
        assert server.webhook("checkouts/create", encode(checkout)).status_code == 200
    carts = server.wait_for("for every cart to be assigned", lambda: assigned(server))
    treated = [c for c in carts if not c["run"]["held_out"]]
    held = [c for c in carts if c["run"]["held_out"]]
    server.wait_for("for the treated carts' SMS", lambda: len(server.sms_lines()) == len(treated))
    for cart in held:
        now = server.api(f"/api/carts/{cart['id']}")
        assert now["messages"] == []
        assert "holdout" in [e["action"] for e in now["timeline"] if e["kind"] == "decision"]

    first = server.api(f"/api/carts/{treated[0]['id']}")
    [sms] = server.wait_for("for the message", lambda: first["messages"] or None)
    preview = server.http.get(
        f"/r/{sms['link_code']}", headers={"User-Agent": "Slackbot-LinkExpanding 1.0"}
    )
    assert preview.status_code == 302
    for n, checkout in enumerate(checkouts[: CARTS // 2]):
        order = order_payload(checkout)
        order["id"] = 9000 + n
        assert server.webhook("orders/create", encode(order)).status_code == 200

    def measured() -> dict[str, Any] | None:
        report: dict[str, Any] = server.api("/api/report", by="arm")
        recovered = report["holdout"]["recovered"] + report["treated"]["recovered"]
        return report if recovered == CARTS // 2 else None

    report = server.wait_for("for the orders in the report", measured)
    assert report["holdout"]["carts"] == len(held) and report["treated"]["carts"] == len(treated)
    assert (report["clicks"], report["bot_clicks"]) == (0, 1)
    assert set(report["lift"]) >= {"absolute", "ci_low", "ci_high", "incremental_revenue"}
    [experiment] = report["experiments"]
    assert experiment["id"] == "cart-sms.step1"
    assert [arm["name"] for arm in experiment["arms"]] == ["plain", "warm"]
    assert sum(arm["carts"] for arm in experiment["arms"]) == len(treated)
    assert [row["key"] for row in report["rows"]][-1] == "holdout"

    command = [sys.executable, "-m", "cartback.cli", "report", "--config", "cartback.yaml"]
    table = subprocess.run(
        [*command, "--by", "arm", "--format", "table"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(table)
    lines = table.splitlines()
    assert lines[0].split()[0] == "arm" and lines[-1].startswith("holdout")
