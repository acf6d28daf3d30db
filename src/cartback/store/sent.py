"""A message's answer from its gateway, written with where its run goes next.

One unit of work per message sent: the attempt's row, the message's outcome and the run's move
(it ends, or waits for its next step). PostgreSQL writes the three as one statement that commits
itself (`Store.record_sent`): one round trip where BEGIN, two statements and COMMIT took four,
at every message. SQLite and the memory store write them in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

from cartback.domain.policy import Reason
from cartback.domain.records import Claim, RunStatus, SendAttempt
from cartback.store.changes import MessageChanges
from cartback.store.runs import Runs

if TYPE_CHECKING:
    from cartback.store.base import Store


@dataclass(frozen=True, slots=True)
class Onward:
    """Where a claimed run goes once its message went out, when that needs no reading: it
    waits `after` for step `step_index`, or (no step) it ends, done. A lost claim moves
    nothing, as every move of a claimed run (engine/runs.py)."""

    ENDED: ClassVar[RunStatus] = RunStatus.DONE  # a run that ends: the flow ran out of steps
    REASON: ClassVar[str] = str(Reason.OK)

    claim: Claim
    step_index: int | None = None
    after: timedelta = timedelta(0)

    def write(self, runs: Runs, now: datetime) -> bool:
        """The move, through the runs repository; False when the claim was lost."""
        if self.step_index is None:
            return runs.finish(self.claim, self.ENDED, self.REASON, now)
        return runs.advance(self.claim, self.step_index, now + self.after, now)


def record_sent_in_a_transaction(
    store: Store,
    attempt: SendAttempt,
    changes: MessageChanges,
    onward: Onward | None,
    now: datetime,
) -> None:
    """`Store.record_sent` where one transaction holds the writes (SQLite, memory)."""
    with store.transaction() as tx:
        tx.messages.add_attempt(attempt, **changes)
        if onward is not None:
            onward.write(tx.runs, now)
