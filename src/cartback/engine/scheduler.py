"""The worker's tick: claim due runs, run each one's next step, record every decision."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from cartback.clock import Clock
from cartback.domain import cart as lifecycle
from cartback.domain.durations import span
from cartback.domain.experiments import Assignment
from cartback.domain.flow import EndStep, Flow, Guard, SendStep, WaitStep, choose_flow
from cartback.domain.policy import Action, Decision, Reason
from cartback.domain.records import (
    WAITING_FOR_ABANDONMENT,
    Cart,
    CartStatus,
    Claim,
    DecisionAction,
    RunStatus,
)
from cartback.engine import assignment, runs
from cartback.engine.pipeline import Pipeline
from cartback.engine.segment_facts import segment_facts
from cartback.engine.sender import Sender
from cartback.engine.sending import Prepared
from cartback.metrics import Metrics
from cartback.store.base import Store, Tx
from cartback.store.sent import Onward

log = logging.getLogger("cartback.worker")


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    batch_size: int
    lease: timedelta
    concurrency: int = 1  # claimed runs worked on at once (each gateway bounds its own calls)
    # The longest a gateway call may take (its timeout): no run of a batch is started later
    # than `lease - longest_send` after the claim, so none is still sending when its lease ends
    # and another worker may claim it.
    longest_send: timedelta = timedelta(0)


class _Next(Enum):
    CONTINUE = "continue"
    STOP = "stop"


# A claimed run and the latest time it may start: a send begun later could outlast its lease.
Due = tuple[Claim, datetime]


@dataclass(frozen=True, slots=True)
class _Abandoned:
    flow: Flow  # as the cart runs it (its arms chosen)
    assigned: Assignment
    # The first step, decided in the abandoning transaction when it is a send due at once.
    first: Prepared | Decision | None = None


class Scheduler:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        flows: Callable[[str], Flow | None],
        sender: Sender,
        settings: SchedulerSettings,
        store_flows: Callable[[str], list[Flow]] = lambda _store: [],
        gaps: Mapping[str, str] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.flows = flows
        self.store_flows = store_flows
        self.sender = sender
        self.settings = settings
        # Per store: the rules that lack the shop's data (a Shopify store without a token).
        self.gaps = dict(gaps or {})
        self._pipeline: Pipeline[Due] | None = None
        self._late = 0  # runs left for their lease to end since the last warning
        self._late_lock = threading.Lock()

    def tick(self, *, drain: bool = True) -> int:
        """Run the steps that are due now; returns how many runs were claimed (at most
        `batch_size`). With `concurrency` above 1 the claimed runs are worked on by that many
        threads, and more are claimed while earlier ones are still sending (engine/pipeline.py):
        a gateway call waits on the network, and the threads never wait for a batch's slowest.
        `drain=False` returns once claiming is done, the runs still going (the worker's loop);
        by default the tick returns when every claimed run is finished."""
        if self.settings.concurrency <= 1:
            claimed = self._claim(self.settings.batch_size)
            for due in claimed:
                self._start(due)
            self._warn_late()
            return len(claimed)
        pipeline = self._pipeline_of()
        claimed_count = pipeline.fill(self._claim, self._start, self.settings.batch_size)
        if drain:
            pipeline.drain()
        self._warn_late()
        return claimed_count

    def drain(self) -> None:
        """Wait for the runs still being worked on (a worker that stops)."""
        if self._pipeline is not None:
            self._pipeline.drain()

    def close(self) -> None:
        """Once nothing claims through this scheduler any more (a reloaded config's old one):
        the runs still sending finish, then its send threads end."""
        if self._pipeline is not None:
            self._pipeline.close()

    def _pipeline_of(self) -> Pipeline[Due]:
        if self._pipeline is None:
            threads = self.settings.concurrency
            # Twice the threads held: each one that finishes finds its next run claimed.
            self._pipeline = Pipeline(
                threads, window=2 * threads, chunk=max(1, threads // 4), name="cartback-send"
            )
        return self._pipeline

    def _claim(self, limit: int) -> list[Due]:
        now = self.clock.now()
        last_start = now + self.settings.lease - self.settings.longest_send
        return [(c, last_start) for c in self.store.claim_due(now, limit, self.settings.lease)]

    def _start(self, due: Due) -> None:
        claim, last_start = due
        if self.clock.now() >= last_start:
            with self._late_lock:
                self._late += 1  # it waits for its lease, then is claimed again
            return
        self._run_one(claim)

    def _warn_late(self) -> None:
        with self._late_lock:
            late, self._late = self._late, 0
        if late:
            log.warning("lease nearly over: the rest of the batch waits", extra={"runs": late})

    def _run_one(self, claim: Claim) -> None:
        try:
            self._run(claim)
        except Exception:
            # The lease runs out and the run is tried again; the others go on.
            log.exception("run failed", extra={"run_id": claim.id, "cart_id": claim.cart_id})

    def _run(self, claim: Claim) -> None:
        flow = self.flows(claim.flow_id)
        index = claim.step_index
        first: Prepared | Decision | None = None
        if index == WAITING_FOR_ABANDONMENT:
            abandoned = self._abandon(claim)
            index = 0
            assigned = None
            if abandoned is not None:
                assigned, first = (abandoned.flow, abandoned.assigned), abandoned.first
                self.metrics.count_decision(str(DecisionAction.ABANDON), str(Reason.ABANDONED))
                self.metrics.count_assignment(abandoned.flow.holdout is not None, assigned[1])
        elif flow is not None:
            with self.store.reading() as tx:
                assigned = assignment.as_assigned(tx, claim.id, claim.cart_id, flow)
        else:
            assigned = None
        if assigned is None:
            if index != 0:  # a run whose flow left the config while it was running
                detail = "The flow is no longer configured."
                self._end(claim, RunStatus.CANCELLED, Reason.FLOW_REMOVED, detail)
            return
        flow, assigned_as = assigned
        while True:
            step = flow.step(index)
            if step is None:
                detail = "The flow has no more steps."
                self._end(claim, RunStatus.DONE, Reason.OK, detail, action=None)
                return
            if step.guard is not None and not self._guard_holds(claim, flow, index, step.guard):
                index += 1
                continue
            if isinstance(step, EndStep):
                detail = f"The flow ends here: {step.reason}"
                self._end(
                    claim, RunStatus.DONE, Reason.FLOW_ENDED, detail, DecisionAction.END, index
                )
                return
            if isinstance(step, WaitStep):
                now = self.clock.now()
                with self.store.transaction() as tx:
                    runs.wait(tx, claim, index + 1, now + step.duration, now)
                return
            held_out = assigned_as.held_out
            if self._send(claim, flow, index, step, held_out, first) is _Next.STOP:
                return
            first = None
            index += 1

    def _guard_holds(self, claim: Claim, flow: Flow, index: int, guard: Guard) -> bool:
        now = self.clock.now()
        with self.store.transaction() as tx:
            cart = tx.carts.get(claim.cart_id)
            if cart is None:
                return False
            opened, clicked = tx.measure.engagement(claim.id)
            facts = replace(segment_facts(tx, cart, now), opened=opened, clicked=clicked)
            if guard.holds(facts):
                return True
            why = f"Step {index + 1} passed over: {guard.explain(facts)}."
            runs.decide(tx, claim, flow.id, index, now, DecisionAction.SKIP, Reason.CONDITION, why)
        return False

    def _abandon(self, claim: Claim) -> _Abandoned | None:
        """Mark the cart abandoned, choose its flow and assign the cart in it; None when nothing
        is to run now. A first step that sends at once is decided in the same transaction (one
        commit, one reading of the cart fewer), and sent once it is committed."""
        now = self.clock.now()
        self.sender.ready()
        with self.store.transaction() as tx:
            cart = tx.carts.get_for_update(claim.cart_id)
            if cart is None or not lifecycle.may_abandon(cart):
                bought = lifecycle.closed_reason(cart) == CartStatus.PURCHASED
                reason = Reason.PURCHASED if bought else Reason.DELETED
                detail = "The cart was closed before it was abandoned."
                runs.end(tx, claim, RunStatus.CANCELLED, str(reason), detail, now)
                return None
            if not lifecycle.has_contact(cart):
                detail = "The cart has no email or phone number, so it cannot be recovered."
                why_not = str(Reason.NO_CONTACT)
                runs.end(
                    tx, claim, RunStatus.DONE, why_not, detail, now, action=DecisionAction.SKIP
                )
                return None
            flow, why = choose_flow(
                self.store_flows(cart.store_id),
                lambda: segment_facts(tx, cart, now, abandoning=True),
            )
            if flow is None:
                # Abandoned all the same: it counts in the report and towards `abandoned_times`.
                tx.carts.change(cart.id, status=CartStatus.ABANDONED, abandoned_at=now)
                detail = f"No flow takes this cart: {why}.{self._gap_note(cart.store_id)}"
                why_not = str(Reason.NO_MATCHING_FLOW)
                runs.end(
                    tx, claim, RunStatus.DONE, why_not, detail, now, action=DecisionAction.SKIP
                )
                return None
            flow, assigned, new = assignment.fix(tx, claim, flow)
            due = cart.last_activity_at + flow.abandon_after
            if due > now:  # the chosen flow (or arm) waits longer than the store's shortest
                runs.wait_for_flow(tx, claim, flow.id, due, now, assigned=new)
                return None
            if not runs.enter_flow(tx, claim, flow.id, now, assigned=new):  # abandons the cart
                return None
            with tx.decisions.batch():  # the abandonment's and the first step's, together
                first = self._enter(tx, claim, cart, flow, assigned, why, now)
        return _Abandoned(flow, assigned, first)

    def _enter(
        self,
        tx: Tx,
        claim: Claim,
        cart: Cart,
        flow: Flow,
        assigned: Assignment,
        why: str,
        now: datetime,
    ) -> Prepared | Decision | None:
        """The abandonment on the timeline, then the first step decided when it sends at once
        (None: it does not)."""
        quiet = span(now - cart.last_activity_at)
        detail = (
            f"No update or order for {quiet}: the cart is abandoned. Chosen {why}."
            f"{self._gap_note(cart.store_id)}"
        )
        detail = " ".join(filter(None, (detail, assignment.described(flow, assigned))))
        runs.decide(tx, claim, flow.id, -1, now, DecisionAction.ABANDON, Reason.ABANDONED, detail)
        if assigned.held_out:
            assignment.note_held_out(tx, claim, flow, now)
        step = flow.step(0)
        if not isinstance(step, SendStep) or step.guard is not None:
            return None
        abandoned = replace(cart, status=CartStatus.ABANDONED, abandoned_at=now)
        held_out = assigned.held_out
        return self.sender.prepare(tx, claim, flow, 0, step, held_out, abandoned, entered=True)

    def _gap_note(self, store_id: str) -> str:
        gaps = self.gaps.get(store_id)
        if not gaps:
            return ""
        return (
            " Without a Shopify Admin API access token these rules cannot be evaluated on the "
            f"shop's customer and product data, only on what the webhooks carry: {gaps}."
        )

    def _send(
        self,
        claim: Claim,
        flow: Flow,
        index: int,
        step: SendStep,
        held_out: bool,
        prepared: Prepared | Decision | None = None,
    ) -> _Next:
        """The step sent (`prepared`: already decided, in the abandoning transaction)."""
        onward = _onward(claim, flow, index)
        if prepared is None:
            decision = self.sender.run_step(
                claim, flow, index, step, held_out=held_out, onward=onward
            )
        else:
            decision = self.sender.complete(claim, flow, index, prepared, onward)
        self.metrics.count_decision(str(decision.action), str(decision.reason))
        if onward is not None and decision.action == Action.SEND:
            return _Next.STOP  # the run moved on with the message's outcome, committed
        if decision.action in (Action.SEND, Action.SKIP):
            return _Next.CONTINUE
        return _Next.STOP

    def _end(
        self,
        claim: Claim,
        status: RunStatus,
        reason: Reason,
        detail: str,
        action: DecisionAction | None = DecisionAction.CANCEL,
        index: int | None = None,
    ) -> None:
        now = self.clock.now()
        with self.store.transaction() as tx:
            runs.end(tx, claim, status, str(reason), detail, now, action=action, index=index)


def _onward(claim: Claim, flow: Flow, index: int) -> Onward | None:
    """Where the run goes after a message sent, when it needs no reading: the flow ends, or an
    unconditional wait comes next. It is written with the message's outcome, in one unit of
    work; anything else (a condition, another send) goes on in the loop as before."""
    following = flow.step(index + 1)
    if following is None:
        return Onward(claim)  # the flow has no more steps
    if isinstance(following, WaitStep) and following.guard is None:
        return Onward(claim, index + 2, following.duration)
    return None
