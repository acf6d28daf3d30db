"""Flow runs (the queue) and the decisions taken about them, in memory."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from cartback.domain.experiments import Assignment
from cartback.domain.records import (
    WAITING_FOR_ABANDONMENT,
    CartStatus,
    Claim,
    DecisionEntry,
    Run,
    RunStatus,
)
from cartback.testing._carts import MemoryCarts
from cartback.testing._data import Data
from cartback.testing._tables import StoreConflict, require, updated, utc, utc_or_none


class MemoryRuns:
    def __init__(self, data: Data) -> None:
        self.data = data
        self.table = data.runs

    def for_cart(self, cart_id: int) -> Run | None:
        run_id = self.data.run_by_cart.get(cart_id)
        return None if run_id is None else self.table.get(run_id)

    def start(self, cart_id: int, flow_id: str, due: datetime, now: datetime) -> Run:
        require(self.data.carts, cart_id, "cart")
        now = utc(now)
        run_id = self.data.run_ids.next()
        run = Run(
            id=run_id,
            cart_id=cart_id,
            flow_id=flow_id,
            step_index=WAITING_FOR_ABANDONMENT,
            status=RunStatus.PENDING,
            next_run_at=utc(due),
            created_at=now,
            updated_at=now,
        )
        return self.table.insert(run_id, run)

    def restart_timer(self, run_id: int, due: datetime, now: datetime) -> None:
        run = self.table.get(run_id)
        if run is None:
            return
        restarted = updated(
            run,
            step_index=WAITING_FOR_ABANDONMENT,
            status=RunStatus.PENDING,
            next_run_at=utc(due),
            claim_token=None,
            updated_at=utc(now),
        )
        self.table.replace(run_id, restarted)

    def advance(self, claim: Claim, step_index: int, due: datetime, now: datetime) -> bool:
        return self._owned(claim, step_index=step_index, next_run_at=utc(due), updated_at=utc(now))

    def move_on(
        self,
        claim: Claim,
        step_index: int,
        now: datetime,
        flow_id: str | None = None,
        assigned: Assignment | None = None,
        *,
        abandoned: bool = False,
    ) -> bool:
        values: dict[str, Any] = {"step_index": step_index, "updated_at": utc(now)}
        if flow_id is not None:
            values["flow_id"] = flow_id
        moved = self._owned(claim, **values, **_assignment(assigned))
        if moved and abandoned:
            MemoryCarts(self.data).change(
                claim.cart_id, status=CartStatus.ABANDONED, abandoned_at=now
            )
        return moved

    def wait_for_abandonment(
        self,
        claim: Claim,
        flow_id: str,
        due: datetime,
        now: datetime,
        assigned: Assignment | None = None,
    ) -> bool:
        values = {"flow_id": flow_id, "next_run_at": utc(due), "updated_at": utc(now)}
        return self._owned(claim, **values, **_assignment(assigned))

    def finish(self, claim: Claim, status: RunStatus, reason: str, now: datetime) -> bool:
        return self._owned(
            claim,
            status=RunStatus(status),
            ended_reason=reason,
            next_run_at=None,
            claim_token=None,
            updated_at=utc(now),
        )

    def hold(self, claim: Claim) -> bool:
        run = self.table.get(claim.id)
        return run is not None and run.claim_token == claim.claim_token

    def cancel_for_cart(self, cart_id: int, reason: str, now: datetime) -> Run | None:
        run = self.for_cart(cart_id)
        if run is None or run.status != RunStatus.PENDING:
            return None
        cancelled = updated(
            run,
            status=RunStatus.CANCELLED,
            ended_reason=reason,
            next_run_at=None,
            claim_token=None,
            updated_at=utc(now),
        )
        self.table.replace(run.id, cancelled)
        return run

    def _owned(self, claim: Claim, **values: Any) -> bool:
        """A move of the run by the worker holding `claim`; False once the claim is lost."""
        self.data.journal.check_writable()
        run = self.table.get(claim.id)
        if run is None or run.claim_token != claim.claim_token:
            return False
        self.table.replace(claim.id, updated(run, **values))
        return True


def claim_due(data: Data, now: datetime, limit: int, lease: timedelta) -> list[Claim]:
    """Run inside a unit of work: the oldest due pending runs, each moved to the end of its
    lease under one new token."""
    now = utc(now)
    token = secrets.token_hex(8)
    until = now + lease
    claims = []
    for run in data.due.pop_due(data.runs, now, limit):
        claimed = updated(run, claim_token=token, claimed_at=now, next_run_at=until)
        data.runs.replace(run.id, claimed)
        due_at = run.next_run_at
        claims.append(
            Claim(run.id, run.cart_id, run.flow_id, run.step_index, token, due_at, run.assignment)
        )
    return claims


def _assignment(assigned: Assignment | None) -> dict[str, Any]:
    """The fields of an assignment written with a run's move (none: nothing to write)."""
    if assigned is None:
        return {}
    return {"held_out": assigned.held_out, "arms": assigned.arms}


class MemoryDecisions:
    def __init__(self, data: Data) -> None:
        self.data = data
        self.table = data.decisions

    def add(self, entry: DecisionEntry) -> None:
        if entry.cart_id not in self.data.carts:
            raise StoreConflict(f"decision for cart {entry.cart_id}, which does not exist")
        require(self.data.runs, entry.run_id, "run")
        decision_id = self.data.decision_ids.next()
        stored = updated(
            entry,
            id=decision_id,
            at=utc(entry.at),
            until=utc_or_none(entry.until),
            action=str(entry.action),  # plain text, as the database gives it back
            reason=str(entry.reason),
        )
        self.table.insert(decision_id, stored)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Nothing to gather: each decision is in place as it is added."""
        yield

    def for_cart(self, cart_id: int) -> list[DecisionEntry]:
        rows = self.table.rows
        return [rows[i] for i in sorted(self.data.decisions_by_cart.get(cart_id))]
