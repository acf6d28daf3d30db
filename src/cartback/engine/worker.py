"""The worker's pass: received deliveries, due flow steps, then the periodic jobs whose time has
come."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cartback.channels._http import GatewayUnavailable
from cartback.channels.base import InboundSource
from cartback.clock import Clock
from cartback.domain.durations import span
from cartback.engine.delivery_queue import DeliveryQueue
from cartback.engine.feedback import Feedback
from cartback.engine.scheduler import Scheduler

log = logging.getLogger("cartback.worker")


@dataclass
class Periodic:
    """A job run at most every `every` (polling a gateway's replies, a shop without webhooks)."""

    name: str
    every: timedelta
    run: Callable[[], int]
    last: datetime | None = field(default=None)

    def due(self, now: datetime) -> bool:
        return self.last is None or now - self.last >= self.every


class Worker:
    def __init__(
        self,
        clock: Clock,
        scheduler: Scheduler,
        jobs: Sequence[Periodic] = (),
        *,
        deliveries: DeliveryQueue | None = None,
    ) -> None:
        self.clock = clock
        self.scheduler = scheduler
        self.jobs = list(jobs)
        self.deliveries = deliveries
        self._passes = threading.Condition()
        self._under_way: set[int] = set()  # the numbers of the passes under way
        self._numbered = 0

    def run_once(self, *, drain: bool = True) -> int:
        """One pass: received deliveries are applied first (a cart's news before its due
        steps), then due runs. Returns the larger count claimed (a full batch: go again).
        `drain=False` leaves the claimed runs sending while the next pass claims more."""
        with self._passes:  # before the pass reads its scheduler and jobs
            number, self._numbered = self._numbered, self._numbered + 1
            self._under_way.add(number)
        try:
            return self._pass(drain)
        finally:
            with self._passes:
                self._under_way.discard(number)
                self._passes.notify_all()

    def after_current_pass(self) -> None:
        """Returns once the passes under way at the call have ended: a scheduler or a job
        replaced before the call is used by no pass after it."""
        with self._passes:
            waiting = set(self._under_way)
            self._passes.wait_for(lambda: not waiting & self._under_way)

    def _pass(self, drain: bool) -> int:
        applied = self.deliveries.apply_pending() if self.deliveries is not None else 0
        claimed = max(applied, self.scheduler.tick(drain=drain))
        for job in self.jobs:
            now = self.clock.now()
            if not job.due(now):
                continue
            job.last = now
            try:
                job.run()
            except GatewayUnavailable as exc:
                # A gateway that does not answer is the operator's weather, not a bug: one line.
                log.warning("%s; trying again in %s", exc, span(job.every), extra={"job": job.name})
            except Exception:
                # The job runs again at its next turn; the worker and the other jobs go on.
                log.exception("periodic job failed", extra={"job": job.name})
        return claimed


def inbound_job(source: InboundSource, feedback: Feedback, every: timedelta) -> Periodic:
    def poll() -> int:
        replies = source.fetch_inbound()
        for reply in replies:
            feedback.apply_inbound(reply)
        return len(replies)

    return Periodic(f"{source.name}:inbound", every, poll)


class WorkerThread(threading.Thread):
    """The worker on a loop: a pass, then a pause of `poll_interval` unless a batch came full."""

    def __init__(self, worker: Worker, poll_interval: timedelta, batch_size: int) -> None:
        super().__init__(name="cartback-worker", daemon=True)
        self.worker = worker
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                # Runs claimed in one pass are still sending while the next one claims.
                busy = self.worker.run_once(drain=False) >= self.batch_size
            except Exception:
                log.exception("scheduler tick failed; trying again")
                busy = False
            if not busy:
                self.stopping.wait(self.poll_interval.total_seconds())
        self.worker.scheduler.drain()  # the runs still sending finish before the thread ends

    def stop(self) -> None:
        self.stopping.set()
