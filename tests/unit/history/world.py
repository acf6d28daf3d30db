"""Generic webhook events written for the history tests, and the config they run under."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from cartback.config import Settings, load_config

CONFIG = """
database_url: sqlite:///unused.db
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
  sms:
    provider: outbox
    path: unused.jsonl
    sender: GenShop
    cost_per_segment: 0.30
policy:
  quiet_hours: {start: "21:00", end: "09:00"}
  cooldown: 72h
flows:
  - id: cart-sms
    store: gen
    abandon_after: 30m
    steps:
      - send: sms
        template: "Hi {{ first_name }}, your basket is saved: {{ link }}"
      - wait: 24h
      - send: email
"""


def settings(tmp_path: Path, config: str = CONFIG) -> Settings:
    path = tmp_path / "cartback.yaml"
    path.write_text(config)
    return load_config(path, environ={})


def cart(
    n: int, at: datetime, *, sms: bool | None = True, phone: str | None = None, **more: Any
) -> dict[str, Any]:
    customer: dict[str, Any] = {
        "id": f"cust-{n}",
        "email": f"shopper{n}@example.com",
        "phone": phone or f"+4520{100000 + n:06d}",
        "first_name": "Ann",
        "consent": {"sms": sms},
    }
    return {
        "event_id": f"cart-{n}-{at.isoformat()}",
        "type": "cart.updated",
        "occurred_at": at.isoformat(),
        "cart": {
            "id": f"c{n}",
            "currency": "DKK",
            "total": "200.00",
            "recovery_url": f"https://shop.example/cart/c{n}",
            "items": [{"title": "Mug", "quantity": 1, "price": "200.00"}],
            **more,
        },
        "customer": customer,
    }


def order(n: int, at: datetime, total: str = "200.00", **more: Any) -> dict[str, Any]:
    return {
        "event_id": f"order-{n}",
        "type": "order.placed",
        "occurred_at": at.isoformat(),
        "order": {"id": f"o{n}", "cart_id": f"c{n}", "currency": "DKK", "total": total, **more},
        "customer": {"id": f"cust-{n}", "email": f"shopper{n}@example.com"},
    }


def jsonl(events: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(event) + "\n" for event in events)
