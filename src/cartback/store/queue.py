"""Flow runs: one row per cart in a flow. The rows whose `next_run_at` has come *are* the queue."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from cartback.store.db import write_transaction
from cartback.store.tables import decisions, runs
from cartback.store.types import AnyRow

PENDING = "pending"
DONE = "done"
CANCELLED = "cancelled"
WAITING_FOR_ABANDONMENT = -1


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    cart_id: int
    flow_id: str
    step_index: int
    claim_token: str


def claim_due(engine: Engine, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Claim up to `limit` due runs in one statement.

    A claimed run's `next_run_at` moves to the end of the lease, so no other worker sees it as
    due; if this worker dies, the run becomes due again when the lease runs out. PostgreSQL skips
    rows another worker has locked; SQLite runs the statement under BEGIN IMMEDIATE.
    """
    token = secrets.token_hex(8)
    due = (
        select(runs.c.id)
        .where(runs.c.status == PENDING, runs.c.next_run_at <= now)
        .order_by(runs.c.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(runs)
        .where(runs.c.id.in_(due.scalar_subquery()))
        .values(claim_token=token, claimed_at=now, next_run_at=now + lease)
        .returning(runs.c.id, runs.c.cart_id, runs.c.flow_id, runs.c.step_index)
    )
    with write_transaction(engine) as conn:
        rows = conn.execute(statement).all()
    return [Claimed(r.id, r.cart_id, r.flow_id, r.step_index, token) for r in rows]


def for_cart(conn: Connection, cart_id: int) -> AnyRow | None:
    return conn.execute(select(runs).where(runs.c.cart_id == cart_id)).first()


def start(conn: Connection, cart_id: int, flow_id: str, due: datetime, now: datetime) -> int:
    values = {
        "cart_id": cart_id,
        "flow_id": flow_id,
        "step_index": WAITING_FOR_ABANDONMENT,
        "status": PENDING,
        "next_run_at": due,
        "created_at": now,
        "updated_at": now,
    }
    return int(conn.execute(insert(runs).values(**values).returning(runs.c.id)).scalar_one())


def restart_timer(conn: Connection, run_id: int, due: datetime, now: datetime) -> None:
    conn.execute(
        update(runs)
        .where(runs.c.id == run_id)
        .values(
            step_index=WAITING_FOR_ABANDONMENT,
            status=PENDING,
            next_run_at=due,
            claim_token=None,
            updated_at=now,
        )
    )


def advance(
    conn: Connection, claim: Claimed, step_index: int, due: datetime, now: datetime
) -> bool:
    """Move a claimed run to `step_index`, due at `due`. False if the claim was lost.

    The claim token stays: the worker may go straight on to the next step, and the next claim
    replaces the token anyway.
    """
    return _owned_update(conn, claim, step_index=step_index, next_run_at=due, updated_at=now)


def move_on(
    conn: Connection, claim: Claimed, step_index: int, now: datetime, flow_id: str | None = None
) -> bool:
    """Record progress within a claim; the run stays hidden from others until the lease ends."""
    values: dict[str, Any] = {"step_index": step_index, "updated_at": now}
    if flow_id is not None:
        values["flow_id"] = flow_id
    return _owned_update(conn, claim, **values)


def wait_for_abandonment(
    conn: Connection, claim: Claimed, flow_id: str, due: datetime, now: datetime
) -> bool:
    """The chosen flow waits longer than the store's shortest: come back when it is due."""
    return _owned_update(conn, claim, flow_id=flow_id, next_run_at=due, updated_at=now)


def finish(conn: Connection, claim: Claimed, status: str, reason: str, now: datetime) -> bool:
    return _owned_update(
        conn,
        claim,
        status=status,
        ended_reason=reason,
        next_run_at=None,
        claim_token=None,
        updated_at=now,
    )


def hold(conn: Connection, claim: Claimed) -> bool:
    """Lock the claimed run for this transaction; False if another party took it meanwhile."""
    found = conn.execute(
        select(runs.c.id)
        .where(runs.c.id == claim.id, runs.c.claim_token == claim.claim_token)
        .with_for_update()
    ).first()
    return found is not None


def _owned_update(conn: Connection, claim: Claimed, **values: Any) -> bool:
    result = conn.execute(
        update(runs)
        .where(runs.c.id == claim.id, runs.c.claim_token == claim.claim_token)
        .values(**values)
    )
    return result.rowcount == 1


def cancel_for_cart(conn: Connection, cart_id: int, reason: str, now: datetime) -> AnyRow | None:
    """Cancel the cart's pending run, whoever holds it; returns the run that was cancelled."""
    return conn.execute(
        update(runs)
        .where(runs.c.cart_id == cart_id, runs.c.status == PENDING)
        .values(
            status=CANCELLED,
            ended_reason=reason,
            next_run_at=None,
            claim_token=None,
            updated_at=now,
        )
        .returning(runs.c.id, runs.c.flow_id, runs.c.step_index)
    ).first()


def record_decision(conn: Connection, **values: Any) -> None:
    conn.execute(insert(decisions).values(**values))


def decide_for(
    conn: Connection,
    claim: Claimed,
    flow_id: str,
    step_index: int,
    now: datetime,
    action: str,
    reason: str,
    detail: str,
    until: datetime | None = None,
) -> None:
    """A decision taken by the worker holding `claim`, about one step of its run."""
    record_decision(
        conn,
        cart_id=claim.cart_id,
        run_id=claim.id,
        flow_id=flow_id,
        step_index=step_index,
        at=now,
        action=action,
        reason=reason,
        detail=detail,
        until=until,
    )


def decisions_for_cart(conn: Connection, cart_id: int) -> Sequence[AnyRow]:
    return conn.execute(
        select(decisions).where(decisions.c.cart_id == cart_id).order_by(decisions.c.id)
    ).all()
