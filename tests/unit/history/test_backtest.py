"""The backtest on JSON Lines written here: exact counts per reason, quiet hours over a night."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cartback.cli import main
from cartback.history import replay
from cartback.history.backtest import run_backtest
from cartback.history.events import HistoryFileError, read_jsonl
from tests.unit.history.world import CONFIG, cart, jsonl, order, settings

NOON = datetime.fromisoformat("2026-11-02T11:00:00+00:00")  # 12:00 in Copenhagen


def _flow(result, flow: str = "cart-sms") -> dict:
    [store] = result.stores
    return next(f.as_json() for f in store.flows if f.flow == flow)


def test_known_events_give_exact_counts_per_reason(tmp_path: Path) -> None:
    minute = timedelta(minutes=1)
    events = [
        cart(1, NOON),  # abandoned, texted, bought within a day: recovered
        cart(2, NOON + minute, sms=False),  # no consent: skipped
        cart(3, NOON + 2 * minute),  # bought before it was abandoned: cancelled
        order(3, NOON + 10 * minute),
        cart(4, NOON + 3 * minute, phone="+4520999999"),  # the same phone as cart 5 ...
        cart(5, NOON + 3 * minute + timedelta(hours=1), phone="+4520999999"),  # ... cooldown
        order(1, NOON + timedelta(hours=3), total="300.00"),
        cart(6, NOON + 4 * minute, sms=None),  # the payload says nothing: no consent
        {**cart(7, NOON + 5 * minute), "event_id": "cart-1-" + NOON.isoformat()},  # duplicate
    ]
    config = settings(tmp_path)
    result = run_backtest(config, read_jsonl(jsonl(events), ["gen"]))

    assert result.deliveries == {"processed": 8, "duplicate": 1}
    [store] = result.stores
    assert (store.carts, store.abandoned) == (6, 5)
    flow = _flow(result)
    assert flow["messages_by_step"] == {"step 1 sms": 2}
    assert flow["sms_segments"] == 2 and flow["spend"] == "0.60"
    # carts 2 and 6 (no consent) and 5 (cooldown) go on to the email step: no email channel
    assert flow["skipped"] == {"no_consent": 2, "cooldown": 1, "channel_not_configured": 3}
    # carts 1 and 3 were bought; cart 4's email step leaves it to cart 5, the newer one
    assert flow["cancelled"] == {"purchased": 2, "newer_cart": 1}
    assert flow["deferred"] == {}
    assert flow["orders_recovered"] == 1
    assert flow["recovered_revenue_upper_bound"] == "300.00"


def test_a_cart_left_in_the_evening_is_texted_the_next_morning(tmp_path: Path) -> None:
    evening = datetime.fromisoformat("2026-11-02T20:00:00+00:00")  # 21:00 in Copenhagen
    events = read_jsonl(jsonl([cart(1, evening)]), ["gen"])
    result = run_backtest(settings(tmp_path), events)

    flow = _flow(result)
    assert flow["deferred"] == {"quiet_hours": 1}
    assert flow["messages_by_step"] == {"step 1 sms": 1}
    [sent] = result.replay.gateway.sent
    [message] = [m for m in _messages(result) if m["cart"] == "c1"]
    assert message["at"] == "2026-11-03T08:00:00+00:00"  # 09:00 in Copenhagen
    assert sent.text == message["text"]


def _messages(result) -> list[dict]:
    from cartback.history.summary import message_lines

    return list(message_lines(result.replay.store, ["gen"]))


def test_since_and_until_choose_the_events(tmp_path: Path) -> None:
    events = read_jsonl(jsonl([cart(1, NOON), cart(2, NOON + timedelta(days=2))]), ["gen"])
    result = run_backtest(settings(tmp_path), events, since=NOON + timedelta(days=1))
    assert result.events == 1 and result.stores[0].carts == 1


def test_a_line_without_its_time_or_store_is_refused_by_number(tmp_path: Path) -> None:
    text = '{"type": "cart.updated"}\n\nnot json\n{"occurred_at": "2026-11-02T10:00:00"}\n'
    with pytest.raises(HistoryFileError) as refused:
        read_jsonl(text, ["gen", "other"], "past.jsonl")
    assert refused.value.problems == [
        "past.jsonl line 1: occurred_at: missing",
        "past.jsonl line 3: not JSON (Expecting value)",
        "past.jsonl line 4: occurred_at: '2026-11-02T10:00:00' has no UTC offset",
    ]
    line = '{"occurred_at": "2026-11-02T10:00:00Z"}'
    with pytest.raises(HistoryFileError, match="store: missing"):
        read_jsonl(line, ["gen", "other"])


def test_the_command_prints_the_summary_and_writes_the_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cartback.yaml").write_text(CONFIG)
    events = tmp_path / "past.jsonl"
    events.write_text(jsonl([cart(1, NOON), order(1, NOON + timedelta(hours=2))]))
    out = tmp_path / "messages.jsonl"
    config = str(tmp_path / "cartback.yaml")
    args = ["backtest", "--config", config, "--events", str(events), "--messages", str(out)]

    assert main(args) == 0
    text = capsys.readouterr().out
    assert "store gen (DKK): 1 carts, 1 abandoned" in text
    assert "recovered (upper bound): 1 orders, 200.00 DKK" in text
    [line] = [json.loads(line) for line in out.read_text().splitlines()]
    assert set(line) == {"cart", "store", "flow", "step", "channel", "to", "at", "text", "segments"}
    assert (line["cart"], line["flow"], line["step"], line["segments"]) == ("c1", "cart-sms", 1, 1)

    assert main(["backtest", "--config", config, "--events", str(events), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["stores"][0]["flows"][0]["orders_recovered"] == 1
    assert "upper bound" in summary["note"]

    (tmp_path / "bad.jsonl").write_text("{}\n")
    assert main(["backtest", "--config", config, "--events", str(tmp_path / "bad.jsonl")]) == 2
    assert "bad.jsonl line 1: occurred_at: missing" in capsys.readouterr().err


def test_held_out_carts_are_counted_and_get_no_message(tmp_path: Path) -> None:
    with_holdout = CONFIG.replace(
        "    abandon_after: 30m\n", "    abandon_after: 30m\n    holdout: 50%\n"
    )
    events = [cart(n, NOON + timedelta(minutes=n)) for n in range(40)]
    result = run_backtest(settings(tmp_path, with_holdout), read_jsonl(jsonl(events), ["gen"]))

    with result.replay.store.reading() as tx:
        carts = [tx.carts.find("gen", f"c{n}") for n in range(40)]
        runs = {c.id: tx.runs.for_cart(c.id) for c in carts if c is not None}
        held = [cid for cid, run in runs.items() if run and run.held_out]
        texted = {m.cart_id for cid in runs for m in tx.messages.for_cart(cid)}
    flow = _flow(result)
    assert 0 < flow["holdout"] == len(held) < 40
    assert not texted & set(held)
    assert flow["skipped"]["holdout"] == len(held)


SHOPIFY = """
database_url: sqlite:///unused.db
public_url: https://cb.example
api_token: test-token
stores:
  - id: acme
    platform: shopify
    shop_domain: acme.myshopify.com
    webhook_secret: secret
    access_token: shpat_token
    name: Acme
    timezone: Europe/Copenhagen
    default_country: DK
    currency: DKK
channels:
  sms: {provider: outbox, path: unused.jsonl, sender: Acme, cost_per_segment: 0.30}
flows:
  - id: cart-sms
    store: acme
    abandon_after: 30m
    steps:
      - send: sms
        template: "{{ discount }} off with {{ discount_code }}: {{ link }}"
        discount: {percentage: 10}
"""


def test_a_shopify_discount_is_simulated_and_no_request_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(503)

    monkeypatch.setattr(replay, "_no_network", refuse)
    events = read_jsonl(jsonl([cart(1, NOON)]), ["acme"])
    result = run_backtest(settings(tmp_path, SHOPIFY), events)

    [sent] = result.replay.gateway.sent
    assert sent.text.startswith("10% off with ") and "/r/" in sent.text
    assert requests == []
