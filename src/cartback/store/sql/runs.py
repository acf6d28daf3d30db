"""Flow runs (one per cart in a flow).

The runs whose `next_run_at` has come *are* the queue: a worker claims due rows in one statement,
and every later move of a claimed run names the claim's token, so a run whose lease ran out and
was claimed by another worker cannot be moved by the first. The engine decides which move to make
(engine/runs.py); this module is the only place that writes a run. The decisions taken about
them are in store/sql/decisions.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, exists, insert, select, update

from cartback.domain.experiments import Assignment
from cartback.domain.records import (
    WAITING_FOR_ABANDONMENT,
    CartStatus,
    Claim,
    Run,
    RunStatus,
)
from cartback.store.sent import Onward
from cartback.store.sql.carts import SqlCarts
from cartback.store.sql.direct import execute
from cartback.store.tables import carts, runs
from cartback.store.types import AnyRow

_PENDING = str(RunStatus.PENDING)

# A claimed run's moves, on every step: built once, the values as parameters (the columns set
# are the keys given beside the owner's).
_IS_OWNED = (runs.c.id == bindparam("owned_id")) & (runs.c.claim_token == bindparam("owned_token"))
_OWNED = update(runs).where(_IS_OWNED)
_DUE = (
    select(runs.c.id, runs.c.next_run_at)
    .where(runs.c.status == _PENDING, runs.c.next_run_at <= bindparam("now"))
    .order_by(runs.c.next_run_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_CLAIM = (
    update(runs)
    .where(runs.c.id.in_(bindparam("ids", expanding=True)))
    .returning(runs.c.id, runs.c.cart_id, runs.c.flow_id, runs.c.step_index)
    .returning(runs.c.holdout, runs.c.arms)
)
_HOLD = select(runs.c.id).where(_IS_OWNED).with_for_update()
# What applying a cart's update asks and writes: built once, the values as parameters.
_FOR_CART = select(runs).where(runs.c.cart_id == bindparam("cart_id"))
_START = insert(runs).returning(*runs.c)  # inserted: the keys given
_RESTART = (
    update(runs)
    .where(runs.c.id == bindparam("run_id"))
    .values(
        step_index=WAITING_FOR_ABANDONMENT,
        status=_PENDING,
        next_run_at=bindparam("due"),
        claim_token=None,
        updated_at=bindparam("now"),
    )
)
# PostgreSQL: the due rows read, locked (skipping those another worker holds) and moved in one
# statement, each returned with the time it was due.
_DUE_ROWS = _DUE.cte("due")
_CLAIM_DUE = (
    update(runs)
    .where(runs.c.id == _DUE_ROWS.c.id)
    .returning(runs.c.id, runs.c.cart_id, runs.c.flow_id, runs.c.step_index)
    .returning(runs.c.holdout, runs.c.arms, _DUE_ROWS.c.next_run_at.label("due_at"))
)


def claim_due(conn: Connection, now: datetime, limit: int, lease: timedelta) -> list[Claim]:
    """Claim up to `limit` due runs, oldest due first (run it in a write transaction, or on
    PostgreSQL on its own): the due rows are read and locked, then moved (on PostgreSQL in one
    statement); each claim keeps the time its step was due.

    A claimed run's `next_run_at` moves to the end of the lease, so no other worker sees it as
    due; if this worker dies, the run becomes due again when the lease runs out. PostgreSQL skips
    rows another worker has locked; SQLite holds its write lock (BEGIN IMMEDIATE) throughout.
    The partial index `ix_runs_due` keeps this as cheap as the number of due rows.
    """
    token = secrets.token_hex(8)
    moved = {"claim_token": token, "claimed_at": now, "next_run_at": now + lease}
    if conn.dialect.name == "postgresql":  # one statement (SQLite returns no joined column)
        rows = execute(conn, _CLAIM_DUE, {"now": now, "limit": limit} | moved).all()
        due_at = {row.id: row.due_at for row in rows}
    else:
        picked = conn.execute(_DUE, {"now": now, "limit": limit}).all()
        if not picked:
            return []
        due_at = {row.id: row.next_run_at for row in picked}
        rows = conn.execute(_CLAIM, {"ids": list(due_at)} | moved).all()
    claims = [
        Claim(r.id, r.cart_id, r.flow_id, r.step_index, token, due_at[r.id], assignment_from(r))
        for r in rows
    ]
    return sorted(claims, key=lambda claim: (claim.due_at or now, claim.id))


def assignment_from(row: Any) -> Assignment | None:
    """A run row's assignment, from its `holdout` and `arms` (None: not assigned yet)."""
    if row.holdout is None:
        return None
    return Assignment.from_mapping(bool(row.holdout), row.arms or {})


def _assignment(assigned: Assignment | None) -> dict[str, Any]:
    """The columns of an assignment written with a run's move (none: nothing to write)."""
    if assigned is None:
        return {}
    return {"holdout": assigned.held_out, "arms": assigned.as_mapping()}


class SqlRuns:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        # Runs this transaction moved under their claim, the claim kept: the move's UPDATE
        # locked the row until the transaction ends, so holding it asks the database nothing.
        self._moved: set[tuple[int, str | None]] = set()

    def for_cart(self, cart_id: int) -> Run | None:
        row = execute(self.conn, _FOR_CART, {"cart_id": cart_id}).first()
        return run_from(row) if row is not None else None

    def start(self, cart_id: int, flow_id: str, due: datetime, now: datetime) -> Run:
        values = {
            "cart_id": cart_id,
            "flow_id": flow_id,
            "step_index": WAITING_FOR_ABANDONMENT,
            "status": _PENDING,
            "next_run_at": due,
            "created_at": now,
            "updated_at": now,
        }
        return run_from(execute(self.conn, _START, values).one())

    def restart_timer(self, run_id: int, due: datetime, now: datetime) -> None:
        self._release(run_id)
        execute(self.conn, _RESTART, {"run_id": run_id, "due": due, "now": now})

    def advance(self, claim: Claim, step_index: int, due: datetime, now: datetime) -> bool:
        return self._owned(claim, **_advanced(step_index, due, now))

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
        values: dict[str, Any] = {"step_index": step_index, "updated_at": now}
        if flow_id is not None:
            values["flow_id"] = flow_id
        values |= _assignment(assigned)
        if not abandoned:
            return self._owned(claim, **values)
        if self.conn.dialect.name != "postgresql":
            moved = self._owned(claim, **values)
            if moved:
                SqlCarts(self.conn).change(
                    claim.cart_id, status=CartStatus.ABANDONED, abandoned_at=now
                )
            return moved
        given = owned_values(claim, values) | {
            "abandoned_cart_id": claim.cart_id,
            "abandoned_status": str(CartStatus.ABANDONED),
            "abandoned_when": now,
        }
        moved = execute(self.conn, _moved_abandoning(frozenset(values)), given).rowcount == 1
        self._track(claim, moved, values)
        return moved

    def wait_for_abandonment(
        self,
        claim: Claim,
        flow_id: str,
        due: datetime,
        now: datetime,
        assigned: Assignment | None = None,
    ) -> bool:
        values = {"flow_id": flow_id, "next_run_at": due, "updated_at": now}
        return self._owned(claim, **values, **_assignment(assigned))

    def finish(self, claim: Claim, status: RunStatus, reason: str, now: datetime) -> bool:
        return self._owned(claim, **_finished(status, reason, now))

    def hold(self, claim: Claim) -> bool:
        if (claim.id, claim.claim_token) in self._moved:
            return True
        owner = {"owned_id": claim.id, "owned_token": claim.claim_token}
        return self.conn.execute(_HOLD, owner).first() is not None

    def cancel_for_cart(self, cart_id: int, reason: str, now: datetime) -> Run | None:
        before = self.conn.execute(
            select(runs).where(runs.c.cart_id == cart_id, runs.c.status == _PENDING)
        ).first()
        if before is None:
            return None
        self._release(before.id)
        cancelled = self.conn.execute(
            update(runs)
            .where(runs.c.id == before.id, runs.c.status == _PENDING)
            .values(
                status=str(RunStatus.CANCELLED),
                ended_reason=reason,
                next_run_at=None,
                claim_token=None,
                updated_at=now,
            )
        )
        return run_from(before) if cancelled.rowcount == 1 else None

    def _owned(self, claim: Claim, **values: Any) -> bool:
        owner = {"owned_id": claim.id, "owned_token": claim.claim_token}
        moved = execute(self.conn, _OWNED, owner | values).rowcount == 1
        self._track(claim, moved, values)
        return moved

    def _track(self, claim: Claim, moved: bool, values: Mapping[str, Any]) -> None:
        key = (claim.id, claim.claim_token)
        if moved and "claim_token" not in values:  # still ours, and locked
            self._moved.add(key)
        else:
            self._moved.discard(key)

    def _release(self, run_id: int) -> None:
        """The run's claim is void from here on (restarted or cancelled, whoever held it)."""
        self._moved = {key for key in self._moved if key[0] != run_id}


def _advanced(step_index: int, due: datetime, now: datetime) -> dict[str, Any]:
    """A claimed run's columns when it goes on at `step_index` at `due`. The claim token
    stays: the next claim replaces it anyway."""
    return {"step_index": step_index, "next_run_at": due, "updated_at": now}


def _finished(status: RunStatus, reason: str, now: datetime) -> dict[str, Any]:
    return {
        "status": str(status),
        "ended_reason": reason,
        "next_run_at": None,
        "claim_token": None,
        "updated_at": now,
    }


@cache
def _moved_abandoning(columns: frozenset[str]) -> Any:
    """PostgreSQL: a claimed run's move and its cart's abandonment in one statement, the cart
    changed only where the run moved (its UPDATE as a WITH); built once per set of columns.
    Every value has a name of no column of the two tables (`run_<column>`,
    `abandoned_<name>`): a statement is compiled for the names given, and a name that is a
    column would be set in both UPDATEs."""
    moved = owned_update(columns).returning(runs.c.id).cte("moved")
    return (
        update(carts)
        .where(carts.c.id == bindparam("abandoned_cart_id"), exists(select(moved.c.id)))
        .values(status=bindparam("abandoned_status"), abandoned_at=bindparam("abandoned_when"))
    )


def onward_columns(onward: Onward, now: datetime) -> dict[str, Any]:
    """The run's columns that `onward` sets at `now`, as `finish` and `advance` set them."""
    if onward.step_index is None:
        return _finished(Onward.ENDED, Onward.REASON, now)
    return _advanced(onward.step_index, now + onward.after, now)


def owned_values(claim: Claim, columns: Mapping[str, Any]) -> dict[str, Any]:
    """A claimed run's move as `owned_update` takes it: the owner, and each column set as
    `run_<name>` (apart from the names of the statements written beside it)."""
    owner = {"owned_id": claim.id, "owned_token": claim.claim_token}
    return owner | {f"run_{name}": value for name, value in columns.items()}


@cache
def owned_update(columns: frozenset[str]) -> Any:
    """A claimed run's move, to be written beside another statement (as a WITH, on
    PostgreSQL): the values of `owned_values`; built once per set of columns."""
    return _OWNED.values({name: bindparam(f"run_{name}") for name in columns})


def run_from(row: AnyRow) -> Run:
    return Run(
        id=row.id,
        cart_id=row.cart_id,
        flow_id=row.flow_id,
        step_index=row.step_index,
        status=RunStatus(row.status),
        next_run_at=row.next_run_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        claim_token=row.claim_token,
        claimed_at=row.claimed_at,
        ended_reason=row.ended_reason,
        held_out=row.holdout,
        arms=tuple((row.arms or {}).items()),
    )
