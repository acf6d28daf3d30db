"""Workers racing over the same database, and a crash between the message row and the gateway."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cartback.domain.events import CartUpdated, Consent, Customer
from cartback.store.tables import messages, runs
from tests.integration.conftest import START, Shop, make_runtime

CARTS = 120


def _fill(db_url: str, tmp_path: Path) -> None:
    """Many consenting carts, abandoned at once."""
    runtime, _clock, _gateway = make_runtime(db_url, tmp_path)
    with runtime.store.transaction() as tx:
        for n in range(CARTS):
            event = CartUpdated(
                store_id="acme",
                cart_key=f"cart-{n}",
                occurred_at=START,
                currency="USD",
                total=__import__("decimal").Decimal("10.00"),
                customer=Customer(phone=f"+45201{n:05d}", first_name="Ida"),
                consent=Consent(sms=True),
                recovery_url=f"https://acme.example/recover/{n}",
            )
            runtime.ingest.applier.apply(tx, event, START)
    runtime.store.close()


def test_two_workers_never_send_the_same_step_twice(db_url: str, tmp_path: Path) -> None:
    _fill(db_url, tmp_path)
    workers = []
    for name in ("a", "b"):
        path = tmp_path / name
        path.mkdir()
        runtime, clock, gateway = make_runtime(db_url, path)
        runtime.scheduler.settings = type(runtime.scheduler.settings)(7, timedelta(minutes=5))
        clock.set(START + timedelta(minutes=31))
        workers.append((runtime, gateway))
    barrier = threading.Barrier(len(workers))

    def work(runtime: object) -> None:
        barrier.wait()
        while runtime.scheduler.tick():  # type: ignore[attr-defined]
            pass

    threads = [threading.Thread(target=work, args=(rt,)) for rt, _ in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    sent = [m.id for _, gateway in workers for m in gateway.sent]
    assert len(sent) == CARTS
    assert len(set(sent)) == CARTS
    if db_url.startswith("postgresql"):
        # With row locks both workers claim concurrently; SQLite serialises writers, and one
        # thread may take every batch, which is correct too.
        assert all(gateway.sent for _, gateway in workers), "both workers should take a share"
    recipients = [m.to for _, gateway in workers for m in gateway.sent]
    assert len(set(recipients)) == CARTS
    runtime = workers[0][0]
    with runtime.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == CARTS
        pending = conn.execute(select(func.count()).where(runs.c.step_index < 1)).scalar_one()
        assert pending == 0
    for rt, _ in workers:
        rt.store.close()


def test_a_crash_after_the_message_row_resends_the_same_id_once(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop.checkout()
    shop.clock.advance(timedelta(minutes=30))
    sender = shop.runtime.scheduler.sender

    def crash(_message: object) -> None:
        raise RuntimeError("process killed between the message row and the gateway call")

    monkeypatch.setattr(sender, "_deliver", crash)
    shop.tick()
    assert shop.sms.sent == []
    [queued] = shop.api("/api/messages")
    assert queued["status"] == "queued"

    monkeypatch.undo()
    assert shop.tick() == 0  # the lease still holds the run
    shop.advance(timedelta(minutes=5))
    assert [m.id for m in shop.sms.sent] == [queued["id"]]
    [sent] = shop.api("/api/messages")
    assert sent["status"] == "sent"
    shop.advance(timedelta(minutes=10))
    assert len(shop.sms.sent) == 1


def test_the_abandonment_and_its_first_message_are_written_all_or_nothing(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One transaction abandons the cart and writes its first message: a failure in between
    leaves neither on the database, and the run is taken again after its lease."""
    shop.checkout()
    shop.clock.advance(timedelta(minutes=30))

    def broken(*_args: object) -> None:
        raise RuntimeError("the message could not be written")

    monkeypatch.setattr(shop.runtime.scheduler.sender, "_write", broken)
    shop.tick()
    cart = shop.cart()
    assert cart["abandoned_at"] is None and shop.api("/api/messages") == []
    assert [e for e in cart["timeline"] if e["kind"] == "decision"] == []

    monkeypatch.undo()
    shop.advance(timedelta(minutes=5))
    [sent] = shop.api("/api/messages")
    assert [m.id for m in shop.sms.sent] == [sent["id"]] and sent["status"] == "sent"
    reasons = [e["reason"] for e in shop.cart()["timeline"] if e["kind"] == "decision"]
    assert reasons.count("abandoned") == 1
