"""How fast the in-memory store carries carts through what the engine asks of it per cart.

The backtest and the simulation run the whole engine on `InMemoryStore`; this measures the store
alone, with the units of work and reads the engine makes for one cart:

  ingest    record the delivery, upsert the cart, checkout consent, start its run, mark done
  abandon   claim the due run, the person's history, mark the cart abandoned, decide
  send      the policy's reads (consent, suppression, cooldown, purchases, newer cart, SMS
            count), the decision, the message and its link; then the attempt and the outcome
  wait      advance the run to its next step
  order     a third of the carts is bought: match the cart, close it, cancel the run, attribute

Prints carts/s per phase, the total, and the process's peak memory.

    python bench/memory_store.py [--carts 100000]
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from cartback.domain.events import LineItem
from cartback.domain.records import (
    CartContents,
    CartStatus,
    Claim,
    ConsentEntry,
    DecisionEntry,
    DeliveryStatus,
    Link,
    Message,
    MessageStatus,
    NewDelivery,
    NewOrder,
    SendAttempt,
)
from cartback.testing import InMemoryStore

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
ABANDON = timedelta(minutes=30)
LEASE = timedelta(minutes=5)
BATCH = 100
ITEMS = (LineItem("Mug", 2, Decimal("99.50"), sku="MUG-1"),)


def contents(n: int) -> CartContents:
    at = T0 + timedelta(seconds=n % 3600)
    return CartContents(
        store_id=f"store-{n % 10}",
        cart_key=f"cart-{n}",
        currency="DKK",
        total=Decimal("199.00"),
        occurred_at=at,
        last_activity_at=at,
        cart_token=f"tok-{n}",
        customer_external_id=f"cust-{n}",
        email=f"shopper{n}@example.com",
        phone=f"+4520{n:06d}",
        first_name="Ann",
        items=ITEMS,
        recovery_url=f"https://shop.example/recover/{n}",
        sms_consent=True,
    )


def ingest(store: InMemoryStore, carts: int) -> None:
    for n in range(carts):
        given = contents(n)
        body = b'{"id": %d}' % n
        with store.transaction() as tx:
            delivery_id, _ = tx.deliveries.record(
                NewDelivery(
                    platform="shopify",
                    store_id=given.store_id,
                    topic="checkouts/update",
                    delivery_key=f"wh-{n}",
                    headers={},
                    body=body,
                    received_at=given.occurred_at,
                )
            )
            if tx.carts.find(given.store_id, given.cart_key) is None:
                cart, _ = tx.carts.upsert(given, given.occurred_at)
                phone = cart.phone or ""
                if tx.consent.latest(cart.store_id, "sms", phone) is None:
                    tx.consent.add(
                        ConsentEntry(
                            cart.store_id, "sms", phone, True, "checkout", T0, given.occurred_at
                        )
                    )
                if tx.runs.for_cart(cart.id) is None:
                    tx.runs.start(cart.id, "flow", given.occurred_at + ABANDON, given.occurred_at)
            tx.deliveries.mark(delivery_id, DeliveryStatus.PROCESSED, given.occurred_at, None)


def run_due(store: InMemoryStore, now: datetime, step: Callable[[Claim, datetime], None]) -> int:
    done = 0
    while claims := store.claim_due(now, BATCH, LEASE):
        for claim in claims:
            step(claim, now)
        done += len(claims)
    return done


def abandon_and_send(store: InMemoryStore) -> Callable[[Claim, datetime], None]:
    def step(claim: Claim, now: datetime) -> None:
        with store.transaction() as tx:
            cart = tx.carts.get_for_update(claim.cart_id)
            if cart is None:
                return
            tx.orders.purchases(cart.store_id, cart.email, cart.phone)
            tx.carts.abandonments(cart)
            tx.carts.change(cart.id, status=CartStatus.ABANDONED, abandoned_at=now)
            tx.runs.move_on(claim, 0, now)
            tx.decisions.add(DecisionEntry(cart.id, now, "abandon", "abandoned", "quiet", claim.id))
        with store.transaction() as tx:
            cart = tx.carts.get_for_update(claim.cart_id)
            if cart is None or tx.messages.for_step(claim.id, 0) is not None:
                return
            phone = cart.phone or ""
            tx.messages.lock_recipient(phone)
            tx.orders.ordered_since(cart.store_id, cart.email, cart.phone, cart.last_activity_at)
            tx.consent.latest(cart.store_id, "sms", phone)
            tx.consent.is_suppressed("sms", phone)
            tx.consent.replied_stop(phone)
            tx.messages.last_to_recipient(phone, exclude_run=claim.id)
            tx.touches.last(phone, "sms", now - timedelta(hours=72))
            tx.carts.newer_live_cart_exists(cart)
            tx.orders.last_purchase(cart.email, cart.phone)
            tx.messages.sms_in_run(claim.id)
            tx.decisions.add(DecisionEntry(cart.id, now, "send", "ok", "sent", claim.id, "flow", 0))
            tx.runs.hold(claim)
            message_id = f"m{claim.id}"
            tx.messages.add(
                Message(
                    message_id,
                    cart.store_id,
                    cart.id,
                    "sms",
                    "fake",
                    phone,
                    "Hi Ann, your basket is saved",
                    Decimal("0.30"),
                    "DKK",
                    MessageStatus.QUEUED,
                    now,
                    run_id=claim.id,
                    flow_id="flow",
                    step_index=0,
                    segments=1,
                    link_code=f"l{claim.id}",
                )
            )
            tx.messages.add_link(Link(f"l{claim.id}", message_id, cart.id, "https://x", now))
        with store.transaction() as tx:
            tx.messages.add_attempt(SendAttempt(message_id, 1, now, 40, "sent", 200))
            tx.messages.get(message_id)
            tx.messages.update(message_id, status=MessageStatus.SENT, sent_at=now, status_at=now)
        with store.transaction() as tx:
            tx.runs.advance(claim, 2, now + timedelta(hours=24), now)

    return step


def order(store: InMemoryStore, carts: int, at: datetime) -> None:
    for n in range(0, carts, 3):
        given = contents(n)
        with store.transaction() as tx:
            if tx.orders.find(given.store_id, f"o{n}") is not None:
                continue
            cart = tx.carts.match_for_order(
                given.store_id,
                checkout_token=given.cart_key,
                cart_token=given.cart_token,
                customer_id=given.customer_external_id,
                email=given.email,
                phone=given.phone,
                since=at - timedelta(days=7),
            )
            if cart is None:
                continue
            tx.carts.get_for_update(cart.id)
            tx.carts.change(cart.id, status=CartStatus.PURCHASED, purchased_at=at, updated_at=at)
            run = tx.runs.cancel_for_cart(cart.id, "purchased", at)
            if run is not None:
                tx.decisions.add(DecisionEntry(cart.id, at, "cancel", "purchased", "bought"))
            touches = tx.messages.touches(cart.id)
            tx.orders.add(
                NewOrder(
                    store_id=cart.store_id,
                    order_key=f"o{n}",
                    currency="DKK",
                    total=Decimal("199.00"),
                    placed_at=at,
                    received_at=at,
                    cart_id=cart.id,
                    email=cart.email,
                    phone=cart.phone,
                    recovered=bool(touches),
                    attributed_message_id=touches[-1].message_id if touches else None,
                    attribution="send" if touches else None,
                )
            )


def timed(label: str, carts: int, work: Callable[[], object]) -> float:
    """Wall time, and this process's CPU time (steadier on a shared machine)."""
    started, cpu = time.perf_counter(), time.process_time()
    work()
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{label:<12} {took:7.2f} s  {carts / took:>9,.0f} carts/s   (cpu {cpu:6.2f} s)")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carts", type=int, default=100_000)
    carts = parser.parse_args().carts
    store = InMemoryStore()
    after = T0 + timedelta(hours=2)
    print(f"InMemoryStore, {carts:,} carts")
    total = timed("ingest", carts, lambda: ingest(store, carts))
    sent = 0

    def send() -> None:
        nonlocal sent
        sent = run_due(store, after, abandon_and_send(store))

    total += timed("abandon+send", carts, send)
    total += timed("order", carts, lambda: order(store, carts, after + timedelta(hours=1)))
    with store.reading() as tx:
        started = time.perf_counter()
        figures = [tx.reports.figures(f"store-{n}", None, None) for n in range(10)]
        report = time.perf_counter() - started
    total += report
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'report':<12} {report:7.2f} s  (10 stores)")
    rate = carts / total
    print(f"{'total':<12} {total:7.2f} s  {rate:>9,.0f} carts/s   peak memory {peak_mb:,.0f} MB")
    messages = sum(f.messages_sent for f in figures)
    recovered = sum(f.orders_recovered for f in figures)
    print(f"{'checked':<12} {sent:,} claimed, {messages:,} sent, {recovered:,} recovered")
    if sent != carts or messages != carts or recovered != len(range(0, carts, 3)):
        raise SystemExit("the figures do not add up")


if __name__ == "__main__":
    main()
