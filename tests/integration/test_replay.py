"""Stored deliveries that failed, and replaying them: the engine function and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.clock import FakeClock
from cartback.engine.replay import Replayed, failed_ids, replay
from cartback.integrations import generic
from cartback.integrations.woocommerce_cart_recovery import url_token
from cartback.runtime import Runtime
from tests.conftest import FIXTURES
from tests.integration.conftest import TOKEN, make_runtime

GEN_SECRET = "gen-webhook-secret"
WOO_SECRET = "woo-webhook-secret"
CAR_CART = "car:5d41402abc4b2a76b9719d911017c592"  # the session id in car_abandoned.form

CONFIG = """
database_url: {db_url}
public_url: https://cb.example
api_token: {token}
stores:
  - id: gen
    platform: generic
    webhook_secret: {gen_secret}
    name: Gen Shop
    default_country: DK
  - id: woo
    platform: woocommerce
    webhook_secret: {woo_secret}
    name: Woo Shop
    default_country: DK{woo_extra}
policy:
  quiet_hours: null
flows:
  - id: woo-sms
    store: woo
    abandon_after: 30m
    steps:
      - send: sms
"""


@contextmanager
def running(
    db_url: str, tmp_path: Path, *, currency: str | None = None, at: datetime | None = None
) -> Iterator[tuple[Runtime, TestClient, FakeClock]]:
    """A runtime and its HTTP client; `currency` is the woo store's (none: the key is left out)."""
    extra = f"\n    currency: {currency}" if currency else ""
    runtime, clock, _sms = make_runtime(
        db_url, tmp_path, CONFIG, gen_secret=GEN_SECRET, woo_secret=WOO_SECRET, woo_extra=extra
    )
    if at is not None:
        clock.set(at)
    try:
        with TestClient(create_app(runtime)) as client:
            yield runtime, client, clock
    finally:
        runtime.store.close()


def api(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return response.json()


def post_generic(client: TestClient, clock: FakeClock, event: dict[str, Any]) -> httpx.Response:
    body = json.dumps(event).encode()
    headers = {
        "Content-Type": "application/json",
        generic.SIGNATURE_HEADER: generic.sign(body, GEN_SECRET, int(clock.now().timestamp())),
    }
    response: httpx.Response = client.post("/webhooks/generic/gen", content=body, headers=headers)
    return response


def unknown_type_event(clock: FakeClock) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": "cart.abandoned",  # not a type of version 1
        "occurred_at": clock.now().isoformat(),
        "cart": {"id": "c-1", "currency": "DKK", "total": "10.00"},
    }


def post_car(client: TestClient) -> httpx.Response:
    form = (FIXTURES / "woocommerce" / "car_abandoned.form").read_bytes()
    response: httpx.Response = client.post(
        "/webhooks/woocommerce/woo/cart-abandonment",
        params={"token": url_token(WOO_SECRET, "woo")},
        content=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return response


# --- the engine function ----------------------------------------------------------------------


def test_an_unparsable_delivery_stays_failed_when_replayed_unchanged(
    db_url: str, tmp_path: Path
) -> None:
    with running(db_url, tmp_path) as (runtime, client, clock):
        event = unknown_type_event(clock)
        response = post_generic(client, clock, event)
        assert response.status_code == 200  # read after the answer
        delivery_id = response.json()["delivery_id"]
        [failed] = api(client, "/api/deliveries", status="failed")
        error = failed["error"]
        assert "type" in error and "cart.abandoned" in error
        assert (failed["id"], failed["delivery_key"]) == (delivery_id, event["event_id"])
        assert failed_ids(runtime) == [delivery_id]

        clock.advance(timedelta(hours=1))
        [again] = replay(runtime, failed_ids(runtime))
        assert again == Replayed(delivery_id, "failed", error)
        [still] = api(client, "/api/deliveries", status="failed")
        assert still["id"] == delivery_id and still["error"] == error
        assert still["attempts"] == 2
        assert api(client, "/api/carts") == []


def test_a_delivery_refused_for_missing_config_is_processed_after_the_fix(
    db_url: str, tmp_path: Path
) -> None:
    with running(db_url, tmp_path) as (_runtime, client, _clock):
        response = post_car(client)
        assert response.status_code == 200
        delivery_id = response.json()["delivery_id"]
        [failed] = api(client, "/api/deliveries", status="failed")
        assert failed["id"] == delivery_id and "currency: missing" in failed["error"]
        assert api(client, "/api/carts", store="woo") == []

    with running(db_url, tmp_path, currency="DKK") as (runtime, client, _clock):
        assert failed_ids(runtime) == [delivery_id]
        [done] = replay(runtime, [delivery_id])
        assert (done.delivery_id, done.outcome) == (delivery_id, "processed")
        [cart] = api(client, "/api/carts", store="woo")
        assert cart["cart_key"] == CAR_CART and cart["currency"] == "DKK"
        assert Decimal(cart["total"]) == Decimal("543.00") and cart["update_count"] == 1
        assert api(client, "/api/deliveries", status="failed") == []

        [twice] = replay(runtime, [delivery_id])
        assert twice == Replayed(delivery_id, "skipped", "already processed")
        [cart] = api(client, "/api/carts", store="woo")
        assert cart["update_count"] == 1
        [delivery] = api(client, "/api/deliveries")
        assert delivery["status"] == "processed" and delivery["attempts"] == 2


def test_a_replayed_delivery_keeps_the_time_it_was_received(db_url: str, tmp_path: Path) -> None:
    """The plugin's webhook carries no time: the cart was abandoned when it was received."""
    with running(db_url, tmp_path) as (_runtime, client, clock):
        received = clock.now()
        assert post_car(client).status_code == 200

    later = received + timedelta(hours=6)
    with running(db_url, tmp_path, currency="DKK", at=later) as (runtime, client, _clock):
        [failed] = failed_ids(runtime)
        assert replay(runtime, [failed])[0].outcome == "processed"
        [cart] = api(client, "/api/carts", store="woo")
        run = api(client, f"/api/carts/{cart['id']}")["run"]
        due = datetime.fromisoformat(run["next_run_at"])
        assert due == received + timedelta(minutes=30), "timer restarted at the replay"


# --- the CLI ----------------------------------------------------------------------------------


def cartback(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cartback.cli", "--log-level", "WARNING", *args]
    return subprocess.run(
        [*command, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_lists_and_replays_failed_deliveries(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    config = tmp_path / "cartback.yaml"
    with running(db_url, tmp_path) as (runtime, client, clock):
        runtime.store.upgrade()
        bad = post_generic(client, clock, unknown_type_event(clock))
        car = post_car(client)
    assert (bad.status_code, car.status_code) == (200, 200)
    bad_id, car_id = bad.json()["delivery_id"], car.json()["delivery_id"]

    listed = cartback(config, "deliveries", "list", "--failed")
    assert listed.returncode == 0, listed.stderr
    header, *lines = listed.stdout.splitlines()
    assert header.split()[:2] == ["id", "received"], listed.stdout  # columns are named
    rows = {int(line.split()[0]): line for line in lines}
    assert set(rows) == {bad_id, car_id}, listed.stdout
    assert "failed" in rows[bad_id] and "cart.abandoned" in rows[bad_id]
    assert "currency: missing" in rows[car_id]

    replayed = cartback(config, "deliveries", "replay", "--failed")
    assert replayed.returncode == 1, (replayed.stdout, replayed.stderr)  # they fail again
    outcomes = {int(line.split()[0]): line.split()[1] for line in replayed.stdout.splitlines()}
    assert outcomes == {bad_id: "failed", car_id: "failed"}, replayed.stdout
    assert "cart.abandoned" in replayed.stdout

    still = cartback(config, "deliveries", "list", "--failed")
    assert {int(line.split()[0]) for line in still.stdout.splitlines()[1:]} == {bad_id, car_id}

    text = config.read_text().replace(
        "default_country: DK\npolicy", "default_country: DK\n    currency: DKK\npolicy"
    )
    config.write_text(text)
    fixed = cartback(config, "deliveries", "replay", "--id", str(car_id))
    assert fixed.returncode == 0, (fixed.stdout, fixed.stderr)
    assert fixed.stdout.split()[:2] == [str(car_id), "processed"]
    twice = cartback(config, "deliveries", "replay", "--id", str(car_id))
    assert twice.returncode == 0 and "skipped" in twice.stdout
    assert "already processed" in twice.stdout
    left = cartback(config, "deliveries", "list", "--failed")
    assert [int(line.split()[0]) for line in left.stdout.splitlines()[1:]] == [bad_id]
