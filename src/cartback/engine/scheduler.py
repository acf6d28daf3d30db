"""The worker's tick: claim due runs, run each one's next step, record every decision."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import Connection, Engine

from cartback.clock import Clock
from cartback.domain.flow import Flow, SendStep, WaitStep
from cartback.domain.policy import Action, Reason
from cartback.engine.sender import Sender
from cartback.store import carts, queue
from cartback.store.db import write_transaction

log = logging.getLogger("cartback.worker")


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    batch_size: int
    lease: timedelta


class _Next(Enum):
    CONTINUE = "continue"
    STOP = "stop"


class Scheduler:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        flows: Callable[[str], Flow | None],
        sender: Sender,
        settings: SchedulerSettings,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.flows = flows
        self.sender = sender
        self.settings = settings

    def tick(self) -> int:
        """Run every step that is due now; returns how many runs were claimed."""
        now = self.clock.now()
        claimed = queue.claim_due(self.engine, now, self.settings.batch_size, self.settings.lease)
        for claim in claimed:
            try:
                self._run(claim)
            except Exception:
                # The lease runs out and the run is tried again; the others go on.
                log.exception("run failed", extra={"run_id": claim.id, "cart_id": claim.cart_id})
        return len(claimed)

    def _run(self, claim: queue.Claimed) -> None:
        flow = self.flows(claim.flow_id)
        if flow is None:
            self._end(
                claim, queue.CANCELLED, Reason.FLOW_REMOVED, "The flow is no longer configured."
            )
            return
        index = claim.step_index
        while True:
            if index == queue.WAITING_FOR_ABANDONMENT:
                if self._abandon(claim, flow) is _Next.STOP:
                    return
                index = 0
                continue
            step = flow.step(index)
            if step is None:
                self._end(
                    claim, queue.DONE, Reason.OK, "The flow has no more steps.", action="done"
                )
                return
            if isinstance(step, WaitStep):
                self._wait(claim, index, step.duration)
                return
            if self._send(claim, flow, index, step) is _Next.STOP:
                return
            index += 1

    def _abandon(self, claim: queue.Claimed, flow: Flow) -> _Next:
        now = self.clock.now()
        with write_transaction(self.engine) as conn:
            cart = carts.get_for_update(conn, claim.cart_id)
            if cart is None or cart.status not in carts.LIVE:
                return self._finish_in(
                    conn,
                    claim,
                    queue.CANCELLED,
                    Reason.PURCHASED if cart and cart.status == carts.PURCHASED else Reason.DELETED,
                    "The cart was closed before it was abandoned.",
                    now,
                )
            if not (cart.email or cart.phone or cart.phone_raw):
                detail = "The cart has no email or phone number, so it cannot be recovered."
                return self._finish_in(
                    conn, claim, queue.DONE, Reason.NO_CONTACT, detail, now, action="skip"
                )
            if not queue.move_on(conn, claim, 0, now):
                return _Next.STOP
            carts.update_cart(conn, cart.id, {"status": carts.ABANDONED, "abandoned_at": now})
            detail = (
                f"No update or order for {_span(flow.abandon_after)}: the cart is abandoned "
                f"and enters flow {flow.id}."
            )
            _decide(conn, claim, flow.id, -1, now, "abandon", "abandoned", detail)
        return _Next.CONTINUE

    def _wait(self, claim: queue.Claimed, index: int, duration: timedelta) -> None:
        now = self.clock.now()
        with write_transaction(self.engine) as conn:
            queue.advance(conn, claim, index + 1, now + duration, now)

    def _send(self, claim: queue.Claimed, flow: Flow, index: int, step: SendStep) -> _Next:
        decision = self.sender.run_step(claim, flow, index, step)
        if decision.action in (Action.SEND, Action.SKIP):
            return _Next.CONTINUE
        return _Next.STOP

    def _end(
        self, claim: queue.Claimed, status: str, reason: Reason, detail: str, action: str = "cancel"
    ) -> None:
        now = self.clock.now()
        with write_transaction(self.engine) as conn:
            self._finish_in(conn, claim, status, reason, detail, now, action=action)

    def _finish_in(
        self,
        conn: Connection,
        claim: queue.Claimed,
        status: str,
        reason: Reason,
        detail: str,
        now: datetime,
        action: str = "cancel",
    ) -> _Next:
        if queue.finish(conn, claim, status, str(reason), now) and action != "done":
            _decide(conn, claim, claim.flow_id, claim.step_index, now, action, str(reason), detail)
        return _Next.STOP


def _decide(
    conn: Connection,
    claim: queue.Claimed,
    flow_id: str,
    step_index: int,
    now: datetime,
    action: str,
    reason: str,
    detail: str,
) -> None:
    queue.record_decision(
        conn,
        cart_id=claim.cart_id,
        run_id=claim.id,
        flow_id=flow_id,
        step_index=step_index,
        at=now,
        action=action,
        reason=reason,
        detail=detail,
    )


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
