"""A queued message sent again, later than it was decided: what may have changed since.

The gateway asked for a retry, so the message goes out minutes or hours after the policy let it
through. A purchase, a newer cart, a STOP or withdrawn consent since then holds it back for good
(the message is marked skipped), and the night defers it to the next allowed minute, as a first
send would be. A message never tried may have reached the gateway before a crash: it goes again
under its own id, as it was, so that the gateway's idempotency settles it.
"""

from __future__ import annotations

from datetime import datetime

from cartback.domain.policy import RESEND_CHECKS, Action, Decision, PolicyRules, decide
from cartback.domain.records import Cart, Claim, Message, MessageStatus, RunStatus
from cartback.engine import runs
from cartback.engine.facts import Target, gather
from cartback.store.base import Tx


def recheck(
    tx: Tx,
    claim: Claim,
    flow_id: str,
    index: int,
    cart: Cart,
    existing: Message,
    target: Target,
    rules: PolicyRules,
    now: datetime,
) -> Decision | None:
    """The decision that holds the queued message back, recorded; None: send it."""
    if existing.status != MessageStatus.QUEUED or existing.attempts == 0:
        return None
    decision = decide(gather(tx, cart, claim.id, target, rules, now), RESEND_CHECKS)
    if decision.action == Action.SEND:
        return None
    runs.record(tx, claim, flow_id, index, decision, now)
    if decision.action == Action.DEFER and decision.until is not None:
        runs.wait(tx, claim, index, decision.until, now)
        return decision
    tx.messages.update(existing.id, status=MessageStatus.SKIPPED, status_at=now)
    if decision.action == Action.CANCEL:
        runs.finish(tx, claim, RunStatus.CANCELLED, str(decision.reason), now)
    return decision
