"""When to try a gateway again: exponential backoff with jitter, and a breaker per gateway."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """The wait after the `attempt`-th failed try: base·2^(attempt-1), ±20% jitter, capped."""
        exponential = self.base * (2 ** max(attempt - 1, 0))
        delay: timedelta = min(exponential, self.cap) * rng.uniform(0.8, 1.2)
        return delay


class Breaker:
    """After `threshold` failures in a row a gateway gets a rest, so a dead one costs no time.

    While it rests, its messages are moved on without calling it; other gateways go on as usual.
    """

    def __init__(self, threshold: int = 3, rest: timedelta = timedelta(seconds=60)) -> None:
        self.threshold = threshold
        self.rest = rest
        self._failures: dict[str, int] = {}
        self._open_until: dict[str, datetime] = {}
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def open_until(self, gateway: str, now: datetime) -> datetime | None:
        with self._lock:
            until = self._open_until.get(gateway)
            return until if until is not None and until > now else None

    def states(self, now: datetime) -> dict[str, bool]:
        """Every gateway called so far: whether it rests at `now` (for the metrics)."""
        with self._lock:
            return {g: self._open_until.get(g, now) > now for g in sorted(self._seen)}

    def record(self, gateway: str, failed: bool, now: datetime) -> None:
        with self._lock:
            self._seen.add(gateway)
            if not failed:
                self._failures.pop(gateway, None)
                self._open_until.pop(gateway, None)
                return
            count = self._failures.get(gateway, 0) + 1
            self._failures[gateway] = count
            if count >= self.threshold:
                self._open_until[gateway] = now + self.rest
