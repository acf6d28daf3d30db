"""Records to store in the contract tests: sensible defaults, changed per test."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from cartback.domain.events import LineItem
from cartback.domain.records import (
    Cart,
    CartContents,
    Claim,
    ConsentEntry,
    DecisionEntry,
    Message,
    MessageStatus,
    NewOrder,
    Run,
)
from cartback.store.base import Store, Tx

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
LEASE = timedelta(minutes=5)
_numbers = itertools.count(1)


def contents(**changes: Any) -> CartContents:
    base = CartContents(
        store_id="acme",
        cart_key=f"cart-{next(_numbers)}",
        currency="DKK",
        total=Decimal("404.95"),
        occurred_at=T0,
        last_activity_at=T0,
        cart_token="tok-1",
        customer_external_id="cust-1",
        email="ann@example.com",
        phone="+4520123456",
        first_name="Ann",
        last_name="Berg",
        country="DK",
        items=(
            LineItem(
                "Mug",
                2,
                Decimal("99.50"),
                sku="MUG-1",
                product_id="p1",
                variant_id="v1",
                image_url="https://img.example/mug.png",
                tags=("kitchen",),
                collections=("gifts",),
            ),
        ),
        discount_codes=("WELCOME",),
        recovery_url="https://shop.example/recover/1",
        sms_consent=True,
        email_consent=None,
        customer_orders_count=3,
        customer_total_spent=Decimal("1200.00"),
        customer_tags=("vip",),
    )
    return replace(base, **changes)


def new_cart(tx: Tx, now: datetime = T0, **changes: Any) -> Cart:
    cart, created = tx.carts.upsert(contents(**changes), now)
    assert created
    return cart


def order(cart: Cart | None = None, **changes: Any) -> NewOrder:
    base = NewOrder(
        store_id=cart.store_id if cart else "acme",
        order_key=f"order-{next(_numbers)}",
        currency=cart.currency if cart else "DKK",
        total=Decimal("404.95"),
        placed_at=T0 + HOUR,
        received_at=T0 + HOUR,
        cart_id=cart.id if cart else None,
        email=cart.email if cart else None,
        phone=cart.phone if cart else None,
    )
    return replace(base, **changes)


def message(cart: Cart, run: Run | None = None, **changes: Any) -> Message:
    base = Message(
        id=f"msg-{next(_numbers):04d}",
        store_id=cart.store_id,
        cart_id=cart.id,
        channel="sms",
        provider="fake",
        recipient=cart.phone or "+4520123456",
        body="Hi Ann, your basket is saved",
        cost=Decimal("0.30"),
        currency="DKK",
        status=MessageStatus.QUEUED,
        created_at=T0,
        run_id=run.id if run else None,
        flow_id=run.flow_id if run else None,
        step_index=0 if run else None,
        sender="Acme",
        encoding="gsm7",
        segments=1,
        link_code=None,
    )
    return replace(base, **changes)


def consent(address: str = "+4520123456", **changes: Any) -> ConsentEntry:
    base = ConsentEntry(
        store_id="acme",
        channel="sms",
        address=address,
        granted=True,
        source="checkout",
        occurred_at=T0,
        recorded_at=T0,
    )
    return replace(base, **changes)


def decision(cart: Cart, **changes: Any) -> DecisionEntry:
    base = DecisionEntry(cart.id, T0, "skip", "no_consent", "No consent on record.")
    return replace(base, **changes)


def cart_with_due_run(store: Store, due: datetime = T0, **changes: Any) -> tuple[Cart, Run]:
    with store.transaction() as tx:
        cart = new_cart(tx, **changes)
        run = tx.runs.start(cart.id, "cart-sms", due, T0 - HOUR)
    return cart, run


def claim_one(store: Store, now: datetime = T0) -> Claim:
    [claim] = store.claim_due(now, 10, LEASE)
    return claim
