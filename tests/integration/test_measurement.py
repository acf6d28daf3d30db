"""Measuring on both databases, through webhooks, the worker, short links and the HTTP API: the
holdout and arms, a re-sent update keeping its arm, the report's lift and experiments, bot
clicks that are not clicks, and `cartback report --by arm --format table`."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.cli import main
from tests.integration.test_dashboard import log_in
from tests.integration.test_policy_rules import GenericShop, config_yaml, flow_yaml, open_shop

STEPS = """
- send: sms
  variants:
    - {name: plain, template: "Plain {{ link }}"}
    - {name: warm, template: "Warm {{ link }}"}
"""
TIMING = "{id: delay, arms: [{name: fast, abandon_after: 20m}, {name: slow, abandon_after: 1h}]}"
CONFIG = config_yaml(flow_yaml("north-test", "north", STEPS, holdout="20%", experiment=TIMING))
CARTS = 120


def phone(n: int) -> str:
    return f"+452012{n:04d}"


def drain(shop: GenericShop) -> None:
    while shop.tick():
        pass


def detail(shop: GenericShop, n: int) -> Any:
    """Cart c{n}, from the API (the carts were created in order, so its id is n + 1)."""
    found = shop.api(f"/api/carts/{n + 1}")
    assert found["cart_key"] == f"c{n}"
    return found


def runs(shop: GenericShop) -> dict[int, Any]:
    """Each cart's run, from the API."""
    return {n: detail(shop, n)["run"] for n in range(CARTS)}


@pytest.fixture
def measured(db_url: str, tmp_path: Path) -> Any:
    with open_shop(db_url, tmp_path, CONFIG) as shop:
        for n in range(CARTS):
            shop.cart("north", f"c{n}", phone=phone(n), email=f"c{n}@example.com")
        shop.clock.advance(timedelta(minutes=20))
        drain(shop)
        # A re-sent update of a cart already assigned (its arm is slow: it waits for its hour).
        shop.cart("north", "c0", phone=phone(0), email="c0@example.com")
        shop.clock.advance(timedelta(hours=1))
        drain(shop)
        yield shop


def test_the_split_is_within_binomial_noise_and_held_out_carts_get_no_message(
    measured: GenericShop,
) -> None:
    found = runs(measured)
    held = [n for n, run in found.items() if run["held_out"]]
    assert abs(len(held) - CARTS * 0.2) <= 4 * math.sqrt(CARTS * 0.2 * 0.8)
    arms = Counter(dict(run["arms"])["delay"] for run in found.values())
    assert abs(arms["fast"] - CARTS / 2) <= 4 * math.sqrt(CARTS / 4)
    assert len(measured.sms.sent) == CARTS - len(held)
    held_out = detail(measured, held[0])
    assert held_out["messages"] == []
    assert [d["action"] for d in held_out["timeline"] if d["kind"] == "decision"][-1] == "holdout"


def test_a_re_sent_update_keeps_its_arm(measured: GenericShop) -> None:
    before = detail(measured, 0)["run"]
    measured.cart("north", "c0", phone=phone(0), email="c0@example.com", total="300.00")
    measured.clock.advance(timedelta(hours=2))
    drain(measured)
    after = detail(measured, 0)["run"]
    assert (after["held_out"], after["arms"]) == (before["held_out"], before["arms"])


def test_the_report_measures_lift_and_experiments_and_bot_clicks_are_not_clicks(
    measured: GenericShop, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = runs(measured)
    chance = random.Random(5)
    for n, run in found.items():
        if chance.random() < (0.1 if run["held_out"] else 0.5):
            measured.order("north", f"o{n}", email=f"c{n}@example.com", cart_id=f"c{n}")
    treated = CARTS  # a fresh cart, for clicks
    measured.cart("north", f"c{treated}", phone=phone(treated), email="x@example.com")
    measured.clock.advance(timedelta(hours=1))
    drain(measured)
    fresh = detail(measured, treated)
    assert fresh["run"]["held_out"] is False  # by its id's hash
    [sms] = fresh["messages"]
    link = f"/r/{sms['link_code']}"
    for method, agent in (("GET", "WhatsApp/2.23.20.0 A"), ("HEAD", "Mozilla/5.0")):
        answer = measured.client.request(
            method, link, headers={"User-Agent": agent}, follow_redirects=False
        )
        assert answer.status_code == 302 and answer.headers["location"].startswith("https://")
    measured.clock.advance(timedelta(days=2))  # past the send window: only a click attributes
    measured.order("north", "late", email="x@example.com", cart_id=f"c{treated}")
    late = detail(measured, treated)
    assert late["order"]["recovered"] is False  # two machines' clicks, no person's
    clicks = [e for e in late["timeline"] if e["kind"] == "click"]
    assert all("fetched by a machine" in e["detail"] for e in clicks) and len(clicks) == 2

    report = measured.api("/api/report", by="arm")
    assert (report["clicks"], report["bot_clicks"]) == (0, 2)
    assert report["holdout"]["carts"] + report["treated"]["carts"] == CARTS + 1
    lift = report["lift"]
    assert lift["ci_low"] <= lift["absolute"] <= lift["ci_high"] and lift["ci_low"] > 0
    assert [e["id"] for e in report["experiments"]] == ["delay", "north-test.step1"]
    keys = [row["key"] for row in report["rows"]]
    assert keys[-1] == "holdout" and "delay/fast" in keys

    main(["report", "--config", str(measured.config_path), "--by", "arm", "--format", "table"])
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["arm", "carts", "messages"]
    assert [line.split()[0] for line in table[1:]] == keys


EMAIL_THEN_SMS = """
- send: email
- wait: 1h
- if: {not: {opened: email}}
  send: sms
"""


def test_an_opened_email_skips_the_sms_step_and_a_scanner_s_open_does_not(
    db_url: str, tmp_path: Path
) -> None:
    config = config_yaml(flow_yaml("engaged", "north", EMAIL_THEN_SMS))
    with open_shop(db_url, tmp_path, config) as shop:
        for n in range(3):
            shop.cart("north", f"c{n}", phone=phone(n), email=f"c{n}@example.com")
        shop.clock.advance(timedelta(minutes=30))
        drain(shop)
        assert len(shop.email.sent) == 3
        assert all(
            "https://cb.example/o/" in (m.rich.html or "") for m in shop.email.sent if m.rich
        )
        shop.clock.advance(timedelta(minutes=5))
        agents = {0: "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15", 1: "Mimecast URL scanner"}
        for n, agent in agents.items():
            [email] = detail(shop, n)["messages"]
            pixel = shop.client.get(f"/o/{email['link_code']}", headers={"User-Agent": agent})
            assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
        shop.clock.advance(timedelta(hours=1))
        drain(shop)
        sms_to = sorted(m.to for m in shop.sms.sent)
        assert sms_to == [phone(1), phone(2)]  # the person who opened it gets no SMS
        skipped = [e for e in detail(shop, 0)["timeline"] if e.get("reason") == "condition"]
        assert "an email was opened" in skipped[0]["detail"]
        for n, who in ((0, "person"), (1, "bot")):
            [seen] = [e for e in detail(shop, n)["timeline"] if e["kind"] == "open"]
            assert seen["action"] == who
        assert shop.api("/api/report")["opens"] == 1


def test_report_filters_and_formats(
    measured: GenericShop, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = {"Authorization": "Bearer test-api-token"}
    wrong = measured.client.get("/api/report", params={"by": "week"}, headers=headers)
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (422, "invalid_request")
    unknown = measured.client.get("/api/report", params={"flow": "nope"}, headers=headers)
    assert unknown.status_code == 404
    one_flow = measured.api("/api/report", flow="north-test", by="step")
    assert [row["key"] for row in one_flow["rows"]] == ["north-test step 1"]
    config = str(measured.config_path)
    main(["report", "--config", config, "--by", "channel", "--format", "csv"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("channel,carts,messages,clicks,bot_clicks,recovered")
    assert lines[1].startswith("sms,")
    main(["report", "--config", config, "--flow", "north-test"])
    assert '"lift"' in capsys.readouterr().out


def test_the_dashboard_shows_the_lift_and_the_experiments(measured: GenericShop) -> None:
    with TestClient(create_app(measured.runtime), base_url="https://testserver") as client:
        log_in(client)
        overview = client.get("/dashboard?store=north").text
        flows = client.get("/dashboard/flows").text
    report = measured.api("/api/report", store="north")
    assert 'id="lift-title">Lift over the holdout' in overview
    assert f"{report['holdout']['carts']} held out" in overview
    assert report["lift"]["verdict"][1:] in overview
    assert "Results so far" in flows and report["lift"]["verdict"][1:] in flows
    for experiment in ("delay", "north-test.step1"):
        assert f'data-experiment="{experiment}"' in flows
    assert 'data-arm="fast"' in flows and 'data-arm="warm"' in flows
