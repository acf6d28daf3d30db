"""A cart's place in its flow's experiments: held out or not, and an arm per experiment.

Fixed once, when the flow is chosen for the abandoned cart, and kept on the run: a later update
of the cart, a restart, or new weights in the config never move it: a claimed run carries the
assignment it has, and one is written only with the move of a run that had none (into its flow,
or waiting for it), in the same statement. The flow then runs as that cart gets it
(`Flow.for_cart`): the timing arm's waits, each send step in its variant. A held-out cart goes
through every step and the policy, but where a message would go out, a `holdout` decision is
recorded instead.
"""

from __future__ import annotations

from datetime import datetime

from cartback.domain.experiments import Assignment
from cartback.domain.flow import Flow
from cartback.domain.policy import Action, Decision, Reason
from cartback.domain.records import Claim, DecisionAction
from cartback.engine import runs
from cartback.store.base import Tx


def cart_key(cart_id: int) -> str:
    """What the experiments hash: the cart's id (with each experiment's id, see `unit_hash`)."""
    return str(cart_id)


def fix(tx: Tx, claim: Claim, flow: Flow) -> tuple[Flow, Assignment, Assignment | None]:
    """The cart's assignment in `flow`: the one its run had when claimed, else a new one. The
    flow as the cart runs it, the assignment, and the assignment to write with the run's move
    into (or wait for) the flow: None when the run had one (the first is kept). An
    `auto_winner` experiment whose winner was called gives new carts the winner."""
    key = cart_key(claim.cart_id)
    if claim.assigned is not None:
        return flow.for_cart(key, claim.assigned), claim.assigned, None
    winners: dict[str, str] = {}
    if any(e.auto_winner for e in flow.experiments):
        winners = {name: called.arm for name, called in tx.measure.winners().items()}
    wanted = flow.assign(key, winners)
    return flow.for_cart(key, wanted), wanted, wanted


def as_assigned(tx: Tx, run_id: int, cart_id: int, flow: Flow) -> tuple[Flow, Assignment]:
    """The flow as this run's cart got it; a run from before assignments were kept is treated
    and gets each arm by the same hash."""
    run = tx.runs.for_cart(cart_id)
    kept = run.assignment if run is not None and run.id == run_id else None
    assignment = kept or Assignment()
    return flow.for_cart(cart_key(cart_id), assignment), assignment


def described(flow: Flow, assignment: Assignment) -> str:
    """The assignment in words, for the abandonment's line on the timeline ('' when the flow
    has no holdout and no experiment)."""
    words = []
    if flow.holdout is not None:
        share = f"{(flow.holdout.share * 100).normalize():f}%"
        held = "is in" if assignment.held_out else "is not in"
        words.append(f"The cart {held} the flow's {share} holdout.")
    for experiment_id, arm in assignment.arms:
        words.append(f"Arm {arm} of experiment {experiment_id}.")
    return " ".join(words)


def note_held_out(tx: Tx, claim: Claim, flow: Flow, now: datetime) -> None:
    """The `holdout` line on a held-out cart's timeline, as it is abandoned."""
    share = f"{(flow.holdout.share * 100).normalize():f}%" if flow.holdout else "the"
    detail = (
        f"The cart is in flow {flow.id}'s {share} holdout: it goes through the flow and the "
        "policy like any other, but gets no message, so that the report can measure what the "
        "flow adds. Its orders are counted as the holdout's."
    )
    runs.decide(tx, claim, flow.id, -1, now, DecisionAction.HOLDOUT, Reason.HOLDOUT, detail)


def held_out(flow_id: str) -> Decision:
    """What a held-out cart gets where a message would have gone out."""
    detail = (
        f"Held out: the policy allowed this message, but the cart is in flow {flow_id}'s "
        "holdout, which gets no message, so that the report can measure what the flow adds."
    )
    return Decision(Action.SKIP, Reason.HOLDOUT, detail)
