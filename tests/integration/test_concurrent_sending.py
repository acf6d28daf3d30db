"""One worker sending from several threads: each claimed step is sent exactly once (the bound on
a gateway's calls in flight is tested in tests/unit/engine/test_pacing.py), and the database
lanes bound the threads that work on the database at once, not the gateway's calls."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event

from cartback.channels.base import OutgoingMessage, SendResult, SendStatus
from cartback.engine.scheduler import SchedulerSettings
from cartback.store.sql.lanes import Lanes
from cartback.store.sql.store import SqlStore
from tests.integration.conftest import START, make_runtime
from tests.integration.test_workers import CARTS, _fill


def test_a_worker_with_eight_threads_sends_each_step_once(db_url: str, tmp_path: Path) -> None:
    _fill(db_url, tmp_path)
    runtime, clock, gateway = make_runtime(db_url, tmp_path)
    runtime.scheduler.settings = SchedulerSettings(40, timedelta(minutes=5), concurrency=8)
    clock.set(START + timedelta(minutes=31))
    while runtime.scheduler.tick():
        pass

    sent = [message.id for message in gateway.sent]
    assert len(sent) == CARTS and len(set(sent)) == CARTS
    assert len({message.to for message in gateway.sent}) == CARTS
    runtime.store.close()


def test_the_database_lanes_bound_the_threads_on_the_database_not_the_gateway_calls(
    db_url: str, tmp_path: Path
) -> None:
    """Eight send threads, two database lanes: never more than two connections in use at once,
    while the gateway is called by more threads than that (each call waits here until four are
    in flight); every step still sent once."""
    _fill(db_url, tmp_path)
    runtime, clock, gateway = make_runtime(db_url, tmp_path)
    assert isinstance(runtime.store, SqlStore)
    runtime.store.lanes = Lanes(2)
    runtime.scheduler.settings = SchedulerSettings(40, timedelta(minutes=5), concurrency=8)
    in_use = calls = 0
    most_in_use = most_calls = 0
    counting, four_calls = threading.Lock(), threading.Event()

    @event.listens_for(runtime.store.engine, "checkout")
    def _lent(*_args: object) -> None:
        nonlocal in_use, most_in_use
        with counting:
            in_use += 1
            most_in_use = max(most_in_use, in_use)

    @event.listens_for(runtime.store.engine, "checkin")
    def _back(*_args: object) -> None:
        nonlocal in_use
        with counting:
            in_use -= 1

    def respond(message: OutgoingMessage) -> SendResult:
        nonlocal calls, most_calls
        with counting:
            calls += 1
            most_calls = max(most_calls, calls)
            if calls == 4:
                four_calls.set()
        four_calls.wait(10)
        with counting:
            calls -= 1
        return SendResult(SendStatus.SENT, sent_at=clock.now(), provider_message_id=message.id)

    gateway.respond = respond
    clock.set(START + timedelta(minutes=31))
    while runtime.scheduler.tick():
        pass

    sent = [message.id for message in gateway.sent]
    assert len(sent) == CARTS and len(set(sent)) == CARTS
    assert most_in_use <= 2
    assert most_calls >= 4
    runtime.store.close()
