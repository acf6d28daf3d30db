"""The runs: a cart's way through its flow, moved only by the worker holding its claim."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from cartback.domain.experiments import Assignment
from cartback.domain.records import Claim, Run, RunStatus


class Runs(Protocol):
    def for_cart(self, cart_id: int) -> Run | None: ...
    def start(self, cart_id: int, flow_id: str, due: datetime, now: datetime) -> Run:
        """A new run waiting for the cart's abandonment."""
        ...

    def restart_timer(self, run_id: int, due: datetime, now: datetime) -> None: ...
    def advance(self, claim: Claim, step_index: int, due: datetime, now: datetime) -> bool:
        """Move a claimed run to `step_index`, due at `due`; False if the claim was lost."""
        ...

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
        """Record progress within a claim; the run stays hidden until the lease ends.
        `assigned`: the cart's holdout and arms, written with the move (the run had none).
        `abandoned`: the run's cart is abandoned at `now` (its status and `abandoned_at`) when
        the run moved, in the same write (one statement on PostgreSQL)."""
        ...

    def wait_for_abandonment(
        self,
        claim: Claim,
        flow_id: str,
        due: datetime,
        now: datetime,
        assigned: Assignment | None = None,
    ) -> bool: ...
    def finish(self, claim: Claim, status: RunStatus, reason: str, now: datetime) -> bool: ...
    def hold(self, claim: Claim) -> bool:
        """Lock the claimed run for this transaction; False if another party took it."""
        ...

    def cancel_for_cart(self, cart_id: int, reason: str, now: datetime) -> Run | None:
        """Cancel the cart's pending run, whoever holds it; the run as it was, or None."""
        ...
