"""Keeping each gateway within its limits while a worker sends many messages at once.

Per gateway: at most `concurrency` calls in flight (a semaphore), and per sender a token bucket
of `rate` messages per second (burst: one second's worth); a gateway whose documented pace counts
SMS segments (`by_segment`, Twilio's) takes a token per segment. A gateway that answers 429 or
"throttled" halves that sender's rate; each message sent after it wins back a tenth of the
difference, so the rate climbs back to the configured one once the gateway keeps up. A gateway
with no rate at all that says "too many" gets one from then on: the pace its answers came at
just before, halved at once, and never above that pace again (the gateway has shown its limit).
Time is injected (`now`, `sleep`), so the buckets are tested on a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

Now = Callable[[], float]
Sleep = Callable[[float], None]

SLOWEST = 0.1  # messages/s: a throttled sender never drops below this
RECOVERY = 0.1  # of the lost rate won back per message sent
OBSERVED = 50  # answers whose times tell the pace of a gateway with no rate


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; `wait` says how long to wait for one."""

    def __init__(self, rate: float, burst: float | None = None, *, now: Now = time.monotonic):
        self.limit = rate
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.now = now
        self.tokens = self.burst
        self.at = now()
        self.lock = threading.Lock()

    def reserve(self, weight: float = 1.0) -> float:
        """Take `weight` tokens; the seconds to wait before using them (0: at once)."""
        with self.lock:
            current = self.now()
            self.tokens = min(self.burst, self.tokens + (current - self.at) * self.rate)
            self.at = current
            self.tokens -= weight
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def slow_down(self) -> None:
        """The gateway said too many: half the pace, and no tokens saved up."""
        with self.lock:
            self.rate = max(SLOWEST, self.rate / 2)
            self.tokens = min(self.tokens, 0.0)

    def sped_up(self) -> None:
        """A message went through: win back part of what a slow-down took."""
        with self.lock:
            self.rate = min(self.limit, self.rate + (self.limit - self.rate) * RECOVERY)


@dataclass(frozen=True, slots=True)
class Limits:
    concurrency: int = 8  # calls in flight to the gateway at once
    rate: float | None = None  # messages/s per sender; None: as fast as the calls go
    by_segment: bool = False  # the rate counts an SMS's segments, not its messages


class GatewayPacer:
    """The limits of one gateway: a semaphore for calls in flight, a bucket per sender."""

    def __init__(self, limits: Limits, *, now: Now = time.monotonic, sleep: Sleep = time.sleep):
        self.limits = limits
        self.now = now
        self.sleep = sleep
        self.in_flight = threading.BoundedSemaphore(limits.concurrency)
        self.buckets: dict[str, TokenBucket] = {}
        self.lock = threading.Lock()
        self.answers: dict[str, deque[float]] = {}  # per sender, while it has no bucket

    def bucket(self, sender: str | None) -> TokenBucket | None:
        with self.lock:
            key = sender or ""
            if key not in self.buckets and self.limits.rate is not None:
                self.buckets[key] = TokenBucket(self.limits.rate, now=self.now)
            return self.buckets.get(key)

    @contextmanager
    def call(self, sender: str | None, weight: float = 1.0) -> Iterator[None]:
        """Wait for `weight` tokens of `sender`'s bucket (the message's segments where the rate
        counts them: `limits.by_segment`), then for a free slot; hold it for the call."""
        bucket = self.bucket(sender)
        if bucket is not None:
            wait = bucket.reserve(weight)
            if wait > 0:
                self.sleep(wait)
        with self.in_flight:
            yield

    def answered(self, sender: str | None, throttled: bool) -> None:
        bucket = self.bucket(sender)
        if bucket is None:
            if throttled:
                bucket = self._learned(sender or "")
            else:
                self._seen(sender or "")
                return
        if throttled:
            bucket.slow_down()
        else:
            bucket.sped_up()

    def _seen(self, key: str) -> None:
        with self.lock:
            self.answers.setdefault(key, deque(maxlen=OBSERVED)).append(self.now())

    def _learned(self, key: str) -> TokenBucket:
        """The first "too many" of a sender with no rate: a bucket at the pace its answers
        came at (as many a second as calls may be in flight, when too few tell it), which
        `answered` then halves."""
        with self.lock:
            times = self.answers.pop(key, deque())
            span = times[-1] - times[0] if len(times) > 1 else 0.0
            pace = (len(times) - 1) / span if span > 0 else float(self.limits.concurrency)
            bucket = self.buckets.setdefault(key, TokenBucket(max(SLOWEST, pace), now=self.now))
            return bucket


class Pacing:
    """Every gateway's pacer, one per gateway object: two stores' own accounts at one provider
    are paced apart (each account has its own limits), a gateway stores share once. A gateway
    without configured limits gets the defaults."""

    def __init__(self, limits: Iterable[tuple[object, Limits]] = ()) -> None:
        # By the gateway's id; the gateway is kept with it, so that the id stays its own.
        self.limits = {id(gateway): (gateway, known) for gateway, known in limits}
        self.pacers: dict[int, tuple[object, GatewayPacer]] = {}
        self.lock = threading.Lock()

    def of(self, gateway: object) -> GatewayPacer:
        key = id(gateway)
        with self.lock:
            if key not in self.pacers:
                known = self.limits.get(key)
                pacer = GatewayPacer(known[1] if known is not None else Limits())
                self.pacers[key] = (gateway, pacer)
            return self.pacers[key][1]
