"""Pacing a gateway: a token bucket per sender on a fake clock, calls in flight bounded, and a
429 that slows the sender down."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cartback.engine.pacing import GatewayPacer, Limits, Pacing, TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.at = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += seconds


def test_a_bucket_gives_its_burst_then_one_token_per_interval() -> None:
    clock = FakeTime()
    bucket = TokenBucket(rate=10, now=clock.now)  # burst: one second's worth
    assert [bucket.reserve() for _ in range(10)] == [0.0] * 10
    assert bucket.reserve() == 0.1 and bucket.reserve() == 0.2, "each waits its turn"
    clock.at += 1.0
    assert bucket.reserve() == 0.0, "a second later the debt is paid and a token is back"


def test_a_sender_is_paced_to_its_rate_and_each_sender_has_its_own_bucket() -> None:
    clock = FakeTime()
    pacer = GatewayPacer(Limits(concurrency=4, rate=2), now=clock.now, sleep=clock.sleep)
    for _ in range(6):
        with pacer.call("Acme"):
            pass
    assert clock.at == 2.0, "2 at once (the burst), then 4 more at 2 a second"
    with pacer.call("Other"):
        pass
    assert clock.at == 2.0, "another sender does not wait for Acme's bucket"


def test_a_429_halves_the_pace_and_sent_messages_win_it_back() -> None:
    clock = FakeTime()
    pacer = GatewayPacer(Limits(rate=8), now=clock.now, sleep=clock.sleep)
    bucket = pacer.bucket("Acme")
    assert bucket is not None
    pacer.answered("Acme", throttled=True)
    assert bucket.rate == 4
    pacer.answered("Acme", throttled=True)
    assert bucket.rate == 2
    for _ in range(60):
        pacer.answered("Acme", throttled=False)
    assert 7.9 < bucket.rate <= 8, "back to the configured rate once the gateway keeps up"


def test_slowed_down_the_next_messages_wait_longer() -> None:
    clock = FakeTime()
    pacer = GatewayPacer(Limits(rate=10), now=clock.now, sleep=clock.sleep)
    for _ in range(10):
        with pacer.call("Acme"):
            pass
    pacer.answered("Acme", throttled=True)
    with pacer.call("Acme"):
        pass
    assert clock.slept == [0.2], "one token at 5 a second, not 10"


def test_without_a_rate_nothing_waits() -> None:
    clock = FakeTime()
    pacer = GatewayPacer(Limits(rate=None), now=clock.now, sleep=clock.sleep)
    for _ in range(100):
        with pacer.call("Acme"):
            pass
    pacer.answered("Acme", throttled=True)
    assert clock.slept == []


def test_calls_in_flight_are_bounded_per_gateway() -> None:
    slow, other = object(), object()  # two gateways
    pacing = Pacing([(slow, Limits(concurrency=3))])
    pacer = pacing.of(slow)
    changed = threading.Condition()
    inside, most = 0, 0
    release = threading.Event()

    def call(_n: int) -> None:
        nonlocal inside, most
        with pacer.call("Acme"):
            with changed:
                inside += 1
                most = max(most, inside)
                changed.notify_all()
            release.wait(timeout=10)
            with changed:
                inside -= 1

    with ThreadPoolExecutor(10) as pool:
        calls = [pool.submit(call, n) for n in range(10)]
        with changed:
            assert changed.wait_for(lambda: inside == 3, timeout=10)
        release.set()
        for done in calls:
            done.result(timeout=10)
    assert most == 3
    assert pacing.of(other).limits == Limits(), "a gateway not configured gets the defaults"
    assert pacing.of(slow) is pacer


def test_a_gateway_without_a_rate_learns_one_from_its_first_429() -> None:
    clock = FakeTime()
    pacer = GatewayPacer(Limits(rate=None), now=clock.now, sleep=clock.sleep)
    for _ in range(21):  # answers at 20 a second
        with pacer.call("Acme"):
            pass
        pacer.answered("Acme", throttled=False)
        clock.at += 0.05
    assert pacer.bucket("Acme") is None and clock.slept == []
    pacer.answered("Acme", throttled=True)
    bucket = pacer.bucket("Acme")
    assert bucket is not None
    assert (bucket.limit, bucket.rate) == (pytest.approx(20.0), pytest.approx(10.0))
    for _ in range(200):
        pacer.answered("Acme", throttled=False)
    assert 19.9 < bucket.rate <= 20.0, "it climbs back to the pace seen, never above it"
    assert pacer.bucket("Other") is None, "another sender keeps no rate"


def test_a_429_before_any_answer_starts_from_the_calls_in_flight_halved() -> None:
    clock = FakeTime()
    pacer = GatewayPacer(Limits(concurrency=4, rate=None), now=clock.now, sleep=clock.sleep)
    pacer.answered("Acme", throttled=True)
    with pacer.call("Acme"):
        pass
    with pacer.call("Acme"):
        pass
    assert clock.slept == [0.5, 0.5], "nothing saved up: a token every half second (2/s)"


def test_a_pace_by_segment_takes_a_token_per_segment() -> None:
    clock = FakeTime()
    pacer = GatewayPacer(Limits(rate=3, by_segment=True), now=clock.now, sleep=clock.sleep)
    with pacer.call("Acme", weight=3):
        pass
    with pacer.call("Acme", weight=3):
        pass
    assert clock.slept == [1.0], "a three-segment SMS takes a second of a 3/s sender"
