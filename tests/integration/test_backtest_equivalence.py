"""The same events through the live server and through the backtest give the same decisions.

Live: each event is POSTed to the generic webhook at the instant it happened, and a worker ticks
every minute on the fake clock, on SQLite and PostgreSQL. Backtest: the same events from a JSON
Lines file. Every cart's timeline (each decision's time, action, reason, flow and step) and every
message (channel, recipient, time, text with its link code masked, segments) must be equal.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.clock import FakeClock
from cartback.config import Settings, load_config
from cartback.domain.events import Channel
from cartback.history.backtest import run_backtest
from cartback.history.events import read_jsonl
from cartback.runtime import build
from cartback.store.base import Store
from cartback.testing import FakeGateway
from tests.unit.history.world import cart, order

START = datetime.fromisoformat("2026-11-02T19:00:00+00:00")  # 20:00 in Copenhagen
END = START + timedelta(hours=18)
CONFIG = """
database_url: {db_url}
public_url: https://cb.example
api_token: test-token
stores:
  - id: gen
    platform: generic
    insecure: true
    name: Gen Shop
    timezone: Europe/Copenhagen
    default_country: DK
    currency: DKK
channels:
  sms: {{provider: outbox, path: unused.jsonl, sender: GenShop, cost_per_segment: 0.30}}
  email: {{provider: outbox, path: unused.jsonl, from: shop@example.com}}
policy:
  quiet_hours: {{start: "21:00", end: "09:00"}}
  cooldown: 72h
flows:
  - id: cart-sms
    store: gen
    abandon_after: 30m
    steps:
      - send: sms
        template: "Hi {{{{ first_name }}}}, your basket is saved: {{{{ link }}}}"
      - wait: 2h
      - send: email
"""
_LINK = re.compile(r"/r/[A-Za-z0-9_\-]+|/u/[A-Za-z0-9_\-.]+")


def _events() -> list[dict[str, Any]]:
    minute = timedelta(minutes=1)
    return [
        cart(1, START),  # texted at 19:30 UTC, then its email
        cart(2, START + minute, sms=False),  # no consent: skipped, email only
        cart(3, START + 2 * minute),
        order(3, START + 20 * minute),  # bought before it was abandoned
        cart(4, START + 40 * minute),  # abandoned 20:10 UTC (21:10 local): the next morning
        cart(5, START + 41 * minute, phone="+4520999999"),
        cart(6, START + 50 * minute, phone="+4520999999"),  # the same person, newer cart
        order(1, START + 3 * timedelta(hours=1)),  # after the SMS: recovered
        {**cart(7, START + 5 * minute), "event_id": cart(2, START + minute)["event_id"]},
    ]


def _settings(tmp_path: Path, db_url: str) -> Settings:
    path = tmp_path / "cartback.yaml"
    path.write_text(CONFIG.format(db_url=db_url))
    return load_config(path, environ={})


def _live(settings: Settings, events: list[dict[str, Any]], keys: list[str]) -> dict[str, Any]:
    clock = FakeClock(START)
    gateway = FakeGateway(clock, name="backtest")
    runtime = build(settings, clock=clock, gateways={Channel.SMS: gateway, Channel.EMAIL: gateway})
    pending = sorted(events, key=lambda e: e["occurred_at"])
    with TestClient(create_app(runtime)) as client:
        while clock.now() <= END:
            while pending and pending[0]["occurred_at"] == clock.now().isoformat():
                body = json.dumps(pending.pop(0)).encode()
                answer = client.post(
                    "/webhooks/generic/gen",
                    content=body,
                    headers={"content-type": "application/json"},
                )
                assert answer.status_code == 200, answer.text
            runtime.worker.run_once()
            clock.advance(timedelta(minutes=1))
    try:
        return _decisions(runtime.store, keys)
    finally:
        runtime.store.close()


def _decisions(store: Store, keys: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    with store.reading() as tx:
        for key in keys:
            cart_row = tx.carts.find("gen", key)
            assert cart_row is not None, key
            found[key] = {
                "status": str(cart_row.status),
                "timeline": [
                    (d.at, d.action, d.reason, d.flow_id, d.step_index)
                    for d in tx.decisions.for_cart(cart_row.id)
                ],
                "messages": [
                    (m.channel, m.recipient, m.created_at, _LINK.sub("/r/*", m.body), m.segments)
                    for m in tx.messages.for_cart(cart_row.id)
                ],
            }
    return found


def test_live_and_backtest_decide_the_same(db_url: str, tmp_path: Path) -> None:
    events = _events()
    settings = _settings(tmp_path, db_url)
    keys = [f"c{n}" for n in range(1, 7)]
    lived = _live(settings, events, keys)

    text = "".join(json.dumps(e) + "\n" for e in events)
    backtest = run_backtest(settings, read_jsonl(text, ["gen"]), until=END)
    replayed = _decisions(backtest.replay.store, keys)

    assert replayed == lived
    # and the scenario is worth comparing: every kind of decision happened
    actions = {step[1] for cart_ in lived.values() for step in cart_["timeline"]}
    reasons = {step[2] for cart_ in lived.values() for step in cart_["timeline"]}
    assert {"abandon", "send", "skip", "defer", "cancel"} <= actions
    assert {"no_consent", "quiet_hours", "purchased", "newer_cart"} <= reasons
