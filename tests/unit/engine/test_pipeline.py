"""The send pipeline: more runs are claimed while earlier ones are still being worked on, never
more than the window is held, and a short claim (nothing more due) ends the filling. Work items
block on events the test sets, so every step is decided by the test, not by timing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from cartback.engine.pipeline import Pipeline

WAIT = 10  # seconds; only reached when the mechanism is broken


class Scripted:
    """Due items 0..count-1, handed out in claim order; each one works until released."""

    def __init__(self, count: int) -> None:
        self.due: Iterator[int] = iter(range(count))
        self.claims: list[int] = []
        self.running: set[int] = set()
        self.most_held = 0
        self.released = {n: threading.Event() for n in range(count)}
        self.changed = threading.Condition()

    def claim(self, want: int) -> list[int]:
        items = [n for _, n in zip(range(want), self.due, strict=False)]
        with self.changed:
            self.claims.append(len(items))
            self.changed.notify_all()
        return items

    def work(self, item: int) -> None:
        with self.changed:
            self.running.add(item)
            self.changed.notify_all()
        assert self.released[item].wait(WAIT)
        with self.changed:
            self.running.discard(item)
            self.changed.notify_all()

    def until(self, condition: Callable[[], bool]) -> None:
        with self.changed:
            assert self.changed.wait_for(condition, WAIT)


def _filling(pipeline: Pipeline[int], script: Scripted, limit: int) -> Callable[[], int]:
    """Fill in a thread of its own (it blocks while the window is full); the function given
    back waits for it and says how many it claimed."""
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(pipeline.fill(script.claim, script.work, limit))
    )
    thread.start()

    def claimed() -> int:
        thread.join(WAIT)
        [count] = result
        return count

    return claimed


def test_more_is_claimed_while_earlier_runs_are_still_sending() -> None:
    script = Scripted(12)
    pipeline: Pipeline[int] = Pipeline(2, window=4, chunk=2, name="test-send")
    claimed = _filling(pipeline, script, limit=100)
    script.until(lambda: script.running == {0, 1})
    assert script.claims == [4]  # the window: two working, two waiting for a thread

    script.released[0].set()  # one place free: less than a chunk, nothing claimed yet
    script.until(lambda: script.running == {1, 2})
    assert script.claims == [4]
    script.released[1].set()  # a chunk free: claimed while 2 and 3 are still working
    script.until(lambda: script.claims == [4, 2])
    assert not script.released[2].is_set() and not script.released[3].is_set()

    for event in script.released.values():
        event.set()
    assert claimed() == 12  # it returns after a short claim: nothing more is due
    assert sum(script.claims) == 12
    pipeline.drain()
    assert pipeline.held == 0 and not script.running


def test_one_fill_claims_at_most_its_limit_and_drain_waits_for_them() -> None:
    script = Scripted(20)
    pipeline: Pipeline[int] = Pipeline(3, window=6, chunk=3, name="test-send")
    for event in script.released.values():
        event.set()
    assert pipeline.fill(script.claim, script.work, limit=8) == 8
    assert script.claims == [6, 2]  # the second claim asks only for what the limit leaves
    pipeline.drain()
    assert pipeline.held == 0 and not script.running


def test_close_waits_for_the_held_items_then_ends_the_threads() -> None:
    pipeline: Pipeline[int] = Pipeline(2, window=2, chunk=1, name="test-closing")
    done: list[int] = []
    pipeline.fill(lambda want: list(range(want)), done.append, 2)
    pipeline.close()
    assert sorted(done) == [0, 1]
    names = [thread.name for thread in threading.enumerate()]
    assert not any(name.startswith("test-closing") for name in names)
