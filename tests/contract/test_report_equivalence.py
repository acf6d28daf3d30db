"""The whole report on a generated history: each store gives exactly what the in-memory store,
written plainly row by row, gives for the same history. The SQL store reads a period through
its indexes in shapes chosen for cost (arrays of carts, messages counted by kind, the store
checked after the time index), and none of that may change a figure."""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from cartback.config import load_config
from cartback.domain.breakdown import By
from cartback.domain.engagement import Click, Link, Open
from cartback.domain.experiments import Assignment
from cartback.domain.orders import OrderStatus
from cartback.domain.records import CartStatus, MessageStatus
from cartback.engine.measuring import Scope
from cartback.engine.report import Report, report
from cartback.store.base import Store
from cartback.testing import InMemoryStore
from tests.contract.records import HOUR, MINUTE, T0, decision, message, new_cart, order

CONFIG = """\
api_token: t
stores:
  - {id: acme, name: Acme, platform: generic, webhook_secret: s, currency: DKK}
  - {id: beta, name: Beta, platform: generic, webhook_secret: s}
channels:
  sms: {provider: outbox, path: outbox.jsonl, sender: Acme}
flows:
  - id: cart-sms
    store: acme
    abandon_after: 30m
    holdout: 20%
    steps:
      - send: sms
        variants:
          - {name: a, template: "A {{ link }}"}
          - {name: b, template: "B {{ link }}"}
  - id: beta-sms
    store: beta
    abandon_after: 30m
    steps:
      - send: sms
"""
STORES = [("acme", "DKK"), ("beta", None)]
EXPERIMENT = "cart-sms.step1"
STATUSES = [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED]
ODD = timedelta(hours=30, microseconds=7)  # a window not of whole seconds
MICRO = timedelta(microseconds=1)
ORDER_STATUSES = [OrderStatus.OPEN, OrderStatus.OPEN, OrderStatus.CANCELLED, OrderStatus.REFUNDED]


def history(store: Store, seed: int, carts: int = 80) -> None:
    """Carts over ten days in two stores: assigned or not, held out or in an arm, messages
    of every kind and status, people's and machines' clicks, opens, orders early and late,
    in the store's currency or not, test or cancelled, with discounts; and skips."""
    pick = random.Random(seed)
    with store.transaction() as tx:
        for n in range(carts):
            store_id = pick.choice(["acme", "acme", "beta"])
            at = T0 + timedelta(minutes=pick.randrange(10 * 24 * 60))
            cart = new_cart(tx, at, store_id=store_id, currency=pick.choice(["DKK", "DKK", "EUR"]))
            flow = "cart-sms" if store_id == "acme" else "beta-sms"
            run = tx.runs.start(cart.id, flow, at + HOUR, at)
            if pick.random() < 0.2:
                tx.decisions.add(decision(cart, at=at + MINUTE, reason=pick.choice(["a", "b"])))
                continue
            tx.carts.change(cart.id, status=CartStatus.ABANDONED, abandoned_at=at + 30 * MINUTE)
            if pick.random() < 0.1:
                continue  # abandoned, never assigned
            held = pick.random() < 0.25
            arm = pick.choice(["a", "b"])
            tx.measure.assign(run.id, Assignment(held, ((EXPERIMENT, arm),)))
            sent = []
            for step in range(0 if held else pick.randrange(3)):
                made = message(
                    cart,
                    run,
                    id=f"m{seed}-{n}-{step}",
                    step_index=step,
                    created_at=at + (step + 1) * HOUR,
                    status=pick.choice(STATUSES),
                    channel=pick.choice(["sms", "sms", "email"]),
                    channel_used=pick.choice([None, None, "sms"]),
                    cost=pick.choice([Decimal("0.30"), Decimal("0.45"), Decimal("0")]),
                    segments=pick.randrange(1, 4),
                    provider_segments=pick.choice([None, 2]),
                    discount_code=pick.choice([None, "TEN"]),
                    experiment_id=EXPERIMENT if step == 0 else None,
                    arm=arm if step == 0 else None,
                    link_code=f"l{seed}-{n}-{step}",
                )
                tx.messages.add(made)
                tx.messages.add_link(Link(made.link_code or "", made.id, cart.id, "https://x", at))
                for _ in range(pick.randrange(3)):
                    bot = pick.random() < 0.3
                    when = made.created_at + timedelta(minutes=pick.randrange(1, 3000))
                    why = "scanner" if bot else None
                    click = Click(made.link_code or "", made.id, cart.id, when, "UA", 0, why)
                    tx.messages.add_click(click)
                if pick.random() < 0.3:
                    tx.measure.add_open(Open(made.id, cart.id, made.created_at + MINUTE, "UA"))
                sent.append(made)
            for _ in range(pick.choice([0, 0, 1, 2])):
                attributed = pick.choice(sent) if sent and pick.random() < 0.7 else None
                tx.orders.add(
                    order(
                        cart,
                        placed_at=pick.choice(edges(at + 30 * MINUTE))
                        if pick.random() < 0.3
                        else at + timedelta(hours=pick.randrange(1, 24 * 8)),
                        total=Decimal(pick.randrange(50, 900)),
                        discount_total=pick.choice([Decimal("0"), Decimal("12.50")]),
                        recovered=attributed is not None,
                        attributed_message_id=attributed.id if attributed else None,
                        status=pick.choice(ORDER_STATUSES),
                        test=pick.random() < 0.1,
                        refunds={"r1": Decimal("20")} if pick.random() < 0.2 else {},
                    )
                )


def edges(abandoned: datetime) -> list[datetime]:
    """Times at the ends of the default window (5 days) and of `ODD`, and just past them."""
    ends = [abandoned, abandoned + timedelta(days=5), abandoned + ODD]
    return [*ends, *(end + MICRO for end in ends), abandoned - MICRO]


def reports(store: Store, tmp_path: Path) -> list[Report]:
    """The report of all time and since the fourth day, whole, by each breakdown, per flow,
    for one store, and with another window."""
    config = tmp_path / "report.yaml"
    config.write_text(CONFIG)
    flows = load_config(config, environ={}).domain_flows()
    found = []
    for since in (None, T0 + timedelta(days=4)):
        for by in (None, *By):
            found.append(report(store, STORES, since, Scope(flows=flows, by=by)))
        found.append(report(store, STORES, since, Scope(flows=flows, flow_id="cart-sms")))
        found.append(report(store, STORES[:1], since, Scope(flows=flows)))
        acme = [f for f in flows if f.store_id == "acme"]
        found.append(report(store, STORES[:1], since, Scope(flows=acme, by=By.ARM)))
        found.append(report(store, STORES, since, Scope(ODD, flows, by=By.DAY)))
    return found


@pytest.mark.parametrize("seed", [1, 2])
def test_the_report_is_the_plain_reading_of_the_same_history(
    store: Store, seed: int, tmp_path: Path
) -> None:
    plain = InMemoryStore()
    history(store, seed)
    history(plain, seed)
    got, expected = reports(store, tmp_path), reports(plain, tmp_path)
    assert [asdict(r) for r in got] == [asdict(r) for r in expected]
    assert any(r.total.messages_sent and r.total.clicks and r.total.holdout for r in got)
