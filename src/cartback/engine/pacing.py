"""Keeping each gateway within its limits while a worker sends many messages at once.

Per gateway: at most `concurrency` calls in flight (a semaphore), and per sender a token bucket
of `rate` messages per second (burst: one second's worth). A gateway that answers 429 or
"throttled" halves that sender's rate; each message sent after it wins back a tenth of the
difference, so the rate climbs back to the configured one once the gateway keeps up.
Time is injected (`now`, `sleep`), so the buckets are tested on a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

Now = Callable[[], float]
Sleep = Callable[[float], None]

SLOWEST = 0.1  # messages/s: a throttled sender never drops below this
RECOVERY = 0.1  # of the lost rate won back per message sent


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

    def reserve(self) -> float:
        """Take a token; the seconds to wait before using it (0: at once)."""
        with self.lock:
            current = self.now()
            self.tokens = min(self.burst, self.tokens + (current - self.at) * self.rate)
            self.at = current
            self.tokens -= 1
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


class GatewayPacer:
    """The limits of one gateway: a semaphore for calls in flight, a bucket per sender."""

    def __init__(self, limits: Limits, *, now: Now = time.monotonic, sleep: Sleep = time.sleep):
        self.limits = limits
        self.now = now
        self.sleep = sleep
        self.in_flight = threading.BoundedSemaphore(limits.concurrency)
        self.buckets: dict[str, TokenBucket] = {}
        self.lock = threading.Lock()

    def bucket(self, sender: str | None) -> TokenBucket | None:
        if self.limits.rate is None:
            return None
        with self.lock:
            key = sender or ""
            if key not in self.buckets:
                self.buckets[key] = TokenBucket(self.limits.rate, now=self.now)
            return self.buckets[key]

    @contextmanager
    def call(self, sender: str | None) -> Iterator[None]:
        """Wait for a token of `sender`'s bucket, then for a free slot; hold it for the call."""
        bucket = self.bucket(sender)
        if bucket is not None:
            wait = bucket.reserve()
            if wait > 0:
                self.sleep(wait)
        with self.in_flight:
            yield

    def answered(self, sender: str | None, throttled: bool) -> None:
        bucket = self.bucket(sender)
        if bucket is None:
            return
        if throttled:
            bucket.slow_down()
        else:
            bucket.sped_up()


class Pacing:
    """Every gateway's pacer, by gateway name; a gateway without configured limits gets the
    defaults."""

    def __init__(self, limits: dict[str, Limits] | None = None) -> None:
        self.limits = dict(limits or {})
        self.pacers: dict[str, GatewayPacer] = {}
        self.lock = threading.Lock()

    def of(self, gateway: str) -> GatewayPacer:
        with self.lock:
            if gateway not in self.pacers:
                self.pacers[gateway] = GatewayPacer(self.limits.get(gateway, Limits()))
            return self.pacers[gateway]
