"""One worker sending from several threads: each claimed step is sent exactly once (the bound on
a gateway's calls in flight is tested in tests/unit/engine/test_pacing.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cartback.engine.scheduler import SchedulerSettings
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
