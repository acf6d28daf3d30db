"""The worker's periodic jobs: an unreachable gateway is one warning line, a bug a traceback."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from cartback.channels._http import GatewayUnavailable
from cartback.clock import FakeClock
from cartback.engine.worker import Periodic, Worker

START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


class _NoDue:
    def tick(self, *, drain: bool = True) -> int:
        return 0


def _worker(run: object, clock: FakeClock) -> Worker:
    job = Periodic("gateway:inbound", timedelta(minutes=1), run)  # type: ignore[arg-type]
    return Worker(clock, _NoDue(), [job])  # type: ignore[arg-type]


def test_an_unreachable_gateway_is_one_warning_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def poll() -> int:
        raise GatewayUnavailable("inbound poll failed: connection error")

    clock = FakeClock(START)
    with caplog.at_level(logging.WARNING, logger="cartback.worker"):
        _worker(poll, clock).run_once()
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    message = record.getMessage()
    assert "inbound poll failed" in message and "trying again in 1m" in message


def test_a_bug_in_a_job_keeps_its_traceback_and_the_job_runs_again_at_its_next_turn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[datetime] = []

    def poll() -> int:
        calls.append(clock.now())
        raise KeyError("bug")

    clock = FakeClock(START)
    worker = _worker(poll, clock)
    with caplog.at_level(logging.ERROR, logger="cartback.worker"):
        worker.run_once()
        worker.run_once()  # not due yet
        clock.advance(timedelta(minutes=1))
        worker.run_once()
    assert calls == [START, START + timedelta(minutes=1)]
    assert all(r.exc_info is not None for r in caplog.records) and len(caplog.records) == 2


def test_after_the_current_pass_waits_for_the_pass_under_way_only() -> None:
    """A reload lets go of the replaced scheduler once the pass that may still use it ended."""
    started, release, returned = threading.Event(), threading.Event(), threading.Event()

    def slow() -> int:
        started.set()
        release.wait()
        return 0

    worker = _worker(slow, FakeClock(START))
    worker.after_current_pass()  # no pass under way: at once
    passing = threading.Thread(target=worker.run_once)
    passing.start()
    assert started.wait(5)
    waiting = threading.Thread(target=lambda: (worker.after_current_pass(), returned.set()))
    waiting.start()
    assert not returned.wait(0.2)  # the pass is still under way
    release.set()
    assert returned.wait(5)
    passing.join(5)
    waiting.join(5)
    assert not passing.is_alive() and not waiting.is_alive()
