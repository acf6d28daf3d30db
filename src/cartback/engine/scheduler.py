"""The worker's tick: claim due runs, run each one's next step, record every decision."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import Connection, Engine

from cartback.clock import Clock
from cartback.domain.flow import EndStep, Flow, Guard, SendStep, WaitStep, choose_flow
from cartback.domain.policy import Action, Reason
from cartback.engine.segment_facts import segment_facts
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
        store_flows: Callable[[str], list[Flow]] = lambda _store: [],
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.flows = flows
        self.store_flows = store_flows
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
        index = claim.step_index
        if index == queue.WAITING_FOR_ABANDONMENT:
            flow = self._abandon(claim)
            index = 0
        if flow is None:
            if index != 0:  # a run whose flow left the config while it was running
                detail = "The flow is no longer configured."
                self._end(claim, queue.CANCELLED, Reason.FLOW_REMOVED, detail)
            return
        while True:
            step = flow.step(index)
            if step is None:
                detail = "The flow has no more steps."
                self._end(claim, queue.DONE, Reason.OK, detail, action="done")
                return
            if step.guard is not None and not self._guard_holds(claim, flow, index, step.guard):
                index += 1
                continue
            if isinstance(step, EndStep):
                detail = f"The flow ends here: {step.reason}"
                self._end(claim, queue.DONE, Reason.FLOW_ENDED, detail, action="end", index=index)
                return
            if isinstance(step, WaitStep):
                self._wait(claim, index, step.duration)
                return
            if self._send(claim, flow, index, step) is _Next.STOP:
                return
            index += 1

    def _guard_holds(self, claim: queue.Claimed, flow: Flow, index: int, guard: Guard) -> bool:
        now = self.clock.now()
        with write_transaction(self.engine) as conn:
            cart = carts.get(conn, claim.cart_id)
            if cart is None:
                return False
            facts = segment_facts(conn, cart, now)
            if guard.holds(facts):
                return True
            why = f"Step {index + 1} passed over: {guard.explain(facts)}."
            queue.decide_for(conn, claim, flow.id, index, now, "skip", str(Reason.CONDITION), why)
        return False

    def _abandon(self, claim: queue.Claimed) -> Flow | None:
        """Mark the cart abandoned and choose its flow; None when nothing is to run now."""
        now = self.clock.now()
        with write_transaction(self.engine) as conn:
            cart = carts.get_for_update(conn, claim.cart_id)
            if cart is None or cart.status not in carts.LIVE:
                bought = cart is not None and cart.status == carts.PURCHASED
                reason = Reason.PURCHASED if bought else Reason.DELETED
                detail = "The cart was closed before it was abandoned."
                self._finish_in(conn, claim, queue.CANCELLED, reason, detail, now)
                return None
            if not (cart.email or cart.phone or cart.phone_raw):
                detail = "The cart has no email or phone number, so it cannot be recovered."
                self._finish_in(conn, claim, queue.DONE, Reason.NO_CONTACT, detail, now, "skip")
                return None
            facts = segment_facts(conn, cart, now, abandoning=True)
            flow, why = choose_flow(self.store_flows(cart.store_id), facts)
            if flow is None:
                # Abandoned all the same: it counts in the report and towards `abandoned_times`.
                carts.update_cart(conn, cart.id, {"status": carts.ABANDONED, "abandoned_at": now})
                detail = f"No flow takes this cart: {why}."
                self._finish_in(
                    conn, claim, queue.DONE, Reason.NO_MATCHING_FLOW, detail, now, "skip"
                )
                return None
            due = cart.last_activity_at + flow.abandon_after
            if due > now:  # the chosen flow waits longer than the store's shortest
                queue.wait_for_abandonment(conn, claim, flow.id, due, now)
                return None
            if not queue.move_on(conn, claim, 0, now, flow_id=flow.id):
                return None
            carts.update_cart(conn, cart.id, {"status": carts.ABANDONED, "abandoned_at": now})
            quiet = _span(now - cart.last_activity_at)
            detail = f"No update or order for {quiet}: the cart is abandoned. Chosen {why}."
            queue.decide_for(conn, claim, flow.id, -1, now, "abandon", "abandoned", detail)
        return flow

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
        self,
        claim: queue.Claimed,
        status: str,
        reason: Reason,
        detail: str,
        action: str = "cancel",
        index: int | None = None,
    ) -> None:
        now = self.clock.now()
        with write_transaction(self.engine) as conn:
            self._finish_in(conn, claim, status, reason, detail, now, action, index)

    def _finish_in(
        self,
        conn: Connection,
        claim: queue.Claimed,
        status: str,
        reason: Reason,
        detail: str,
        now: datetime,
        action: str = "cancel",
        index: int | None = None,
    ) -> _Next:
        if queue.finish(conn, claim, status, str(reason), now) and action != "done":
            step = claim.step_index if index is None else index
            queue.decide_for(conn, claim, claim.flow_id, step, now, action, str(reason), detail)
        return _Next.STOP


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
