"""How long `cartback backtest` takes over a month of a busy shop: 100,000 carts by default.

Generates generic webhook events (a cart update, for some a second one, for a third of the carts
an order a few hours later, a few consent withdrawals), replays them through the live engine as
the command does, and prints the run time and the summary.

    python bench/backtest.py [--carts 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cartback.config import load_config
from cartback.history.backtest import run_backtest, text_lines
from cartback.history.events import read_jsonl

START = datetime(2026, 10, 1, tzinfo=UTC)
MONTH = 30 * 24 * 3600
CONFIG = """
database_url: sqlite:///unused.db
public_url: https://cb.example
api_token: bench-token
stores:
  - id: shop
    platform: generic
    insecure: true
    name: Bench Shop
    timezone: Europe/Copenhagen
    default_country: DK
    currency: DKK
channels:
  sms: {provider: outbox, path: unused.jsonl, sender: Bench, cost_per_segment: 0.30}
  email: {provider: outbox, path: unused.jsonl, from: shop@example.com}
policy:
  quiet_hours: {start: "21:00", end: "09:00"}
  cooldown: 72h
flows:
  - id: cart-sms
    store: shop
    abandon_after: 30m
    steps:
      - send: sms
        template: "Hi {{ first_name }}, your basket at {{ store_name }} is saved: {{ link }}"
      - wait: 24h
      - send: email
"""


def events(carts: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    found: list[dict[str, Any]] = []
    for n in range(carts):
        at = START + timedelta(seconds=rng.randrange(MONTH))
        phone = f"+4520{rng.randrange(100000, 999999)}"
        customer = {
            "id": f"cust-{n}",
            "email": f"shopper{n}@example.com",
            "phone": phone,
            "first_name": "Ann",
            "consent": {"sms": rng.random() < 0.8, "email": rng.random() < 0.6},
        }
        cart = {
            "id": f"c{n}",
            "currency": "DKK",
            "total": f"{rng.randrange(100, 2000)}.00",
            "recovery_url": f"https://shop.example/cart/c{n}",
            "items": [{"title": "Mug", "quantity": 1, "price": "100.00"}],
        }
        found.append(_event(f"u{n}", "cart.updated", at, cart=cart, customer=customer))
        if rng.random() < 0.3:
            later = at + timedelta(minutes=rng.randrange(1, 20))
            found.append(_event(f"v{n}", "cart.updated", later, cart=cart, customer=customer))
        if rng.random() < 0.33:
            bought = at + timedelta(minutes=rng.randrange(5, 72 * 60))
            order = {"id": f"o{n}", "cart_id": f"c{n}", "currency": "DKK", "total": cart["total"]}
            customer_ref = {"id": f"cust-{n}", "email": customer["email"]}
            found.append(
                _event(f"o{n}", "order.placed", bought, order=order, customer=customer_ref)
            )
    return found


def _event(key: str, kind: str, at: datetime, **body: Any) -> dict[str, Any]:
    return {"event_id": key, "type": kind, "occurred_at": at.isoformat(), **body}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "cartback.yaml"
        path.write_text(CONFIG)
        settings = load_config(path, environ={})
    text = "".join(json.dumps(event) + "\n" for event in events(args.carts, args.seed))
    started, cpu = time.perf_counter(), time.process_time()
    history = read_jsonl(text, ["shop"])
    result = run_backtest(settings, history)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    print("\n".join(text_lines(result)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.carts:,} carts, {result.events:,} events in {took:.1f} s "
        f"({args.carts / took:,.0f} carts/s, cpu {cpu:.1f} s, peak memory {peak:,.0f} MB)"
    )


if __name__ == "__main__":
    main()
