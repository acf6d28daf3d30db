"""A run's moves, in one place: start, restart, claim's moves (advance, defer, end), cancel.

Every move goes through the runs repository, which refuses a move whose claim was lost; every
move that means something to a person leaves a decision on the cart's timeline. The scheduler,
the sender and ingest call these; none of them writes a run directly. One move is written
elsewhere, by the same rules: where the run goes once its message went out (it ends, or waits
for its next step) goes with the message's answer (`store/sent.Onward`, `Store.record_sent`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartback.domain.experiments import Assignment
from cartback.domain.flow import Flow
from cartback.domain.policy import Decision
from cartback.domain.records import Claim, DecisionAction, DecisionEntry, RunStatus
from cartback.store.base import Tx


def decide(
    tx: Tx,
    claim: Claim,
    flow_id: str,
    index: int,
    now: datetime,
    action: DecisionAction,
    reason: str,
    detail: str,
    until: datetime | None = None,
) -> None:
    """A decision taken by the worker holding `claim`, about one step of its run."""
    tx.decisions.add(
        DecisionEntry(
            cart_id=claim.cart_id,
            at=now,
            action=action,
            reason=reason,
            detail=detail,
            run_id=claim.id,
            flow_id=flow_id,
            step_index=index,
            until=until,
        )
    )


def finish(tx: Tx, claim: Claim, status: RunStatus, reason: str, now: datetime) -> bool:
    """Finish the run, its decision already recorded; False when the claim was lost."""
    return tx.runs.finish(claim, status, reason, now)


def record(
    tx: Tx,
    claim: Claim,
    flow_id: str,
    index: int,
    decision: Decision,
    now: datetime,
    *,
    action: DecisionAction | None = None,
) -> None:
    """The policy's decision about a step (or a note beside it, under its own `action`)."""
    action = action or DecisionAction(decision.action)
    reason, until = decision.reason, decision.until
    decide(tx, claim, flow_id, index, now, action, reason, decision.detail, until)


def end(
    tx: Tx,
    claim: Claim,
    status: RunStatus,
    reason: str,
    detail: str,
    now: datetime,
    *,
    action: DecisionAction | None = DecisionAction.CANCEL,
    index: int | None = None,
) -> None:
    """Finish the run; the decision is recorded unless the claim was lost or there is nothing
    to say (`action=None`: the flow simply ran out of steps)."""
    if finish(tx, claim, status, reason, now) and action is not None:
        step = claim.step_index if index is None else index
        decide(tx, claim, claim.flow_id, step, now, action, reason, detail)


def wait(tx: Tx, claim: Claim, index: int, due: datetime, now: datetime) -> bool:
    """Go on at step `index` when `due` comes (a wait step, a deferral, a retry)."""
    return tx.runs.advance(claim, index, due, now)


def enter_flow(
    tx: Tx, claim: Claim, flow_id: str, now: datetime, assigned: Assignment | None = None
) -> bool:
    """The cart is abandoned now and starts `flow_id` at its first step, under the same claim
    (False, and the cart as it was, when the claim was lost); `assigned`: its assignment in
    the flow, written with the move (see engine/assignment.py)."""
    return tx.runs.move_on(claim, 0, now, flow_id=flow_id, assigned=assigned, abandoned=True)


def wait_for_flow(
    tx: Tx,
    claim: Claim,
    flow_id: str,
    due: datetime,
    now: datetime,
    assigned: Assignment | None = None,
) -> bool:
    """The chosen flow waits longer than the store's shortest: come back when it is due."""
    return tx.runs.wait_for_abandonment(claim, flow_id, due, now, assigned=assigned)


def hold(tx: Tx, claim: Claim) -> None:
    """Lock the claimed run for this transaction; raise when another worker took it over."""
    if not tx.runs.hold(claim):
        raise RuntimeError(f"run {claim.id} lost its claim")


def schedule(
    tx: Tx, cart_id: int, flows: Sequence[Flow], active_at: datetime, now: datetime
) -> bool:
    """Each update restarts the abandonment timer, unless the recovery already messaged.

    The timer is the store's shortest wait (timing arms included); the flow is chosen when the
    time comes, and one that waits longer (or the cart's arm) sends the run back to sleep (see
    the scheduler). True when the timer of an existing run restarted (the cart is open again).
    """
    if not flows:
        return False
    due = active_at + min(flow.shortest_abandon_after for flow in flows)
    run = tx.runs.for_cart(cart_id)
    if run is None:
        tx.runs.start(cart_id, flows[0].id, due, now)
        return False
    if run.status != RunStatus.PENDING or tx.messages.any_for_run(run.id):
        return False
    tx.runs.restart_timer(run.id, due, now)
    return True


def cancel(tx: Tx, cart_id: int, reason: str, detail: str, now: datetime) -> None:
    """Cancel the cart's pending run, whoever holds it (an order, a deleted cart)."""
    run = tx.runs.cancel_for_cart(cart_id, reason, now)
    if run is None:
        return
    tx.decisions.add(
        DecisionEntry(
            cart_id=cart_id,
            at=now,
            action=DecisionAction.CANCEL,
            reason=reason,
            detail=detail,
            run_id=run.id,
            flow_id=run.flow_id,
            step_index=run.step_index,
        )
    )
