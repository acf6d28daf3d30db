"""The database lanes of a process (store/sql/lanes.py): at most so many threads at once, a
thread that holds one never waits for a second, and a lane comes back after an error."""

from __future__ import annotations

import threading

import pytest

from cartback.store.sql.lanes import Lanes

TIMEOUT = 10  # seconds; only a broken gate waits this long


def test_no_more_threads_than_lanes_work_at_once() -> None:
    lanes, threads = Lanes(2), 6
    state = threading.Condition()
    asked = inside = most = 0

    def work() -> None:
        nonlocal asked, inside, most
        with state:
            asked += 1
            state.notify_all()
        with lanes.held(), state:
            inside += 1
            most = max(most, inside)
            # Hold the lane until every thread has asked for one: an ungated thread would
            # be inside by then.
            assert state.wait_for(lambda: asked == threads, timeout=TIMEOUT)
            inside -= 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(TIMEOUT)
    assert not any(worker.is_alive() for worker in workers)
    assert most == 2


def test_a_thread_that_holds_a_lane_does_not_wait_for_another() -> None:
    lanes, done = Lanes(1), threading.Event()

    def nested() -> None:
        with lanes.held(), lanes.held(), lanes.held():
            pass
        with lanes.held():  # and the one lane is free again after the nesting
            done.set()

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    assert done.wait(TIMEOUT)


def test_a_lane_comes_back_when_the_work_fails() -> None:
    lanes = Lanes(1)
    with pytest.raises(RuntimeError), lanes.held():
        raise RuntimeError("the transaction failed")
    taken = threading.Event()

    def take() -> None:
        with lanes.held():
            taken.set()

    threading.Thread(target=take, daemon=True).start()
    assert taken.wait(TIMEOUT)


def test_at_least_one_lane() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Lanes(0)
