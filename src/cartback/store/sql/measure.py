"""Assignments, opens, a run's engagement and each assigned cart's outcome, in SQL."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    String,
    any_,
    bindparam,
    cast,
    func,
    insert,
    select,
    update,
)
from sqlalchemy import Text as TextType

from cartback.domain.cells import Cell, CellsAsked
from cartback.domain.engagement import Open
from cartback.domain.experiments import Assignment, Winner
from cartback.domain.outcomes import CartOutcome, PlacedOrder, SentMessage
from cartback.store.sql.cells import read_cells
from cartback.store.sql.common import insert_ignoring_duplicates
from cartback.store.sql.reports import OUT, serial
from cartback.store.sql.runs import assignment_from
from cartback.store.tables import carts, clicks, experiment_winners, messages, opens, orders, runs

# Once per abandoned cart: built once, the values as parameters (the first assignment wins).
_ASSIGN = update(runs).where(runs.c.id == bindparam("assigned_id"), runs.c.holdout.is_(None))
_ASSIGNED = select(runs.c.holdout, runs.c.arms).where(runs.c.id == bindparam("assigned_id"))


class SqlMeasurements:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def assign(self, run_id: int, assignment: Assignment) -> Assignment:
        values = {"holdout": assignment.held_out, "arms": assignment.as_mapping()}
        if self.conn.execute(_ASSIGN, {"assigned_id": run_id} | values).rowcount == 1:
            # Ours is the first: it reads back as written (one round trip fewer per cart).
            return Assignment.from_mapping(assignment.held_out, assignment.as_mapping())
        kept = assignment_from(self.conn.execute(_ASSIGNED, {"assigned_id": run_id}).one())
        if kept is None:
            raise RuntimeError(f"run {run_id} kept no assignment")
        return kept

    def add_open(self, opened: Open) -> None:
        self.conn.execute(
            insert(opens).values(
                message_id=opened.message_id,
                cart_id=opened.cart_id,
                at=opened.at,
                user_agent=(opened.user_agent or "")[:300] or None,
                bot=opened.bot,
                bot_reason=opened.bot_reason,
            )
        )

    def opens_for_cart(self, cart_id: int) -> list[Open]:
        rows = self.conn.execute(
            select(opens).where(opens.c.cart_id == cart_id).order_by(opens.c.at, opens.c.id)
        )
        return [Open(r.message_id, r.cart_id, r.at, r.user_agent, r.bot_reason, r.id) for r in rows]

    def engagement(self, run_id: int) -> tuple[frozenset[str], frozenset[str]]:
        channel = func.coalesce(messages.c.channel_used, messages.c.channel)
        opened = (
            select(channel)
            .select_from(messages.join(opens, opens.c.message_id == messages.c.id))
            .where(messages.c.run_id == run_id, opens.c.bot.is_(False))
        )
        clicked = (
            select(channel)
            .select_from(messages.join(clicks, clicks.c.message_id == messages.c.id))
            .where(messages.c.run_id == run_id, clicks.c.bot.is_(False))
        )
        return (
            frozenset(self.conn.execute(opened.distinct()).scalars()),
            frozenset(self.conn.execute(clicked.distinct()).scalars()),
        )

    def call_winner(self, winner: Winner) -> bool:
        statement = insert_ignoring_duplicates(self.conn, experiment_winners).values(
            experiment_id=winner.experiment_id,
            arm=winner.arm,
            called_at=winner.called_at,
            why=winner.why,
        )
        added = self.conn.execute(statement.returning(experiment_winners.c.experiment_id))
        return added.first() is not None

    def winners(self) -> dict[str, Winner]:
        rows = self.conn.execute(select(experiment_winners))
        return {r.experiment_id: Winner(r.experiment_id, r.arm, r.called_at, r.why) for r in rows}

    def outcomes(
        self, store_id: str, since: datetime | None, flow_id: str | None = None
    ) -> list[CartOutcome]:
        serial(self.conn)
        # The period's abandoned carts, then their runs: each step a lookup by index (joined in
        # one query, PostgreSQL would rather read every run past a hash of the carts).
        abandoned = select(carts.c.id, carts.c.abandoned_at).where(
            carts.c.store_id == store_id, carts.c.abandoned_at.is_not(None)
        )
        if since is not None:
            abandoned = abandoned.where(carts.c.abandoned_at >= since)
        period = self.conn.execute(abandoned.order_by(carts.c.id)).all()
        in_period = self._carts(select(abandoned.subquery().c.id), [cart for cart, _ in period])
        assigned = select(
            runs.c.cart_id,
            runs.c.flow_id,
            runs.c.holdout,
            cast(runs.c.arms, TextType).label("arms"),
        ).where(in_period.have(runs.c.cart_id), runs.c.holdout.is_not(None))
        if flow_id is not None:
            assigned = assigned.where(runs.c.flow_id == flow_id)
        run_of = {r[0]: r[1:] for r in self.conn.execute(assigned)}
        rows = [(cart, at, run_of[cart]) for cart, at in period if cart in run_of]
        ids = self._carts(select(assigned.subquery().c.cart_id), [cart for cart, _, _ in rows])
        sent = self._messages(ids)
        with_code = {cart for cart, found in sent.items() if any(m.discount for m in found)}
        first_orders = self._orders(ids, with_code)
        arms = _Arms()
        return [
            CartOutcome(
                cart_id=cart,
                flow_id=flow,
                abandoned_at=abandoned_at,
                held_out=bool(holdout),
                arms=arms.of(raw_arms),
                messages=tuple(sent.get(cart, ())),
                order=first_orders.get(cart),
            )
            for cart, abandoned_at, (flow, holdout, raw_arms) in rows
        ]

    def cells(self, asked: CellsAsked) -> list[Cell]:
        return read_cells(self.conn, asked)

    def _carts(self, query: Select[Any], found: list[int]) -> _Among:
        """Carts as the next queries ask for their rows: on PostgreSQL the ids found, as one
        array; on SQLite the query again (a list of ids could pass its limit of parameters)."""
        if self.conn.dialect.name == "postgresql":
            return _Among(None, found)
        return _Among(query, None)

    def _messages(self, ids: _Among) -> dict[int, list[SentMessage]]:
        m = messages.c
        rows = self.conn.execute(
            select(
                m.id,
                m.cart_id,
                m.channel,
                m.channel_used,
                m.step_index,
                m.cost,
                m.created_at,
                m.experiment_id,
                m.arm,
                m.discount_code,
            )
            .where(ids.have(m.cart_id), m.status.in_(OUT))
            .order_by(m.created_at, m.id)
        ).all()
        sent = self._sent(ids, [r[0] for r in rows])
        people, bots = self._counted(clicks, sent)
        seen, _bot_opens = self._counted(opens, sent)
        found: dict[int, list[SentMessage]] = defaultdict(list)
        # Unpacked, not read by name: a big store's month is tens of thousands of rows.
        for mid, cart, channel, used, step, cost, at, experiment, arm, code in rows:
            message = SentMessage(
                id=mid,
                channel=used or channel,
                step_index=step,
                cost=cost,
                created_at=at,
                experiment_id=experiment,
                arm=arm,
                clicks=people.get(mid, 0),
                bot_clicks=bots.get(mid, 0),
                opens=seen.get(mid, 0),
                discount=code is not None,
            )
            found[cart].append(message)
        return found

    def _sent(self, ids: _Among, found: list[str]) -> _Among:
        """The messages that went out to these carts: on PostgreSQL their ids found, as one
        array; on SQLite a query of these carts' messages (their clicks and opens are read by
        message, and only those that went out are asked for)."""
        if ids.query is None:
            return _Among(None, found, String)
        query = select(messages.c.id).where(messages.c.cart_id.in_(ids.query))
        return _Among(query, None)

    def _counted(self, table: Any, sent: _Among) -> tuple[dict[str, int], dict[str, int]]:
        """Rows (clicks or opens) per message: by people, and by machines."""
        people: dict[str, int] = {}
        bots: dict[str, int] = {}
        query = (
            select(table.c.message_id, table.c.bot, func.count())
            .where(sent.have(table.c.message_id))
            .group_by(table.c.message_id, table.c.bot)
        )
        for message_id, bot, count in self.conn.execute(query):
            (bots if bot else people)[message_id] = int(count)
        return people, bots

    def _orders(self, ids: _Among, with_code: set[int]) -> dict[int, PlacedOrder]:
        o = orders.c
        rows = self.conn.execute(
            select(
                o.cart_id,
                o.placed_at,
                o.currency,
                o.total,
                o.status,
                o.test,
                o.refunded,
                o.discount_total,
            )
            .where(ids.have(o.cart_id))
            .order_by(o.placed_at, o.id)
        ).all()
        found: dict[int, PlacedOrder] = {}
        for cart, placed_at, currency, total, status, test, refunded, discount in rows:
            if cart in found:
                continue
            found[cart] = PlacedOrder.of(
                placed_at,
                currency,
                total,
                status=status,
                test=test,
                refunded=refunded,
                discount=discount if cart in with_code else Decimal("0"),
            )
        return found


class _Arms:
    """Runs' arms as the report reads them: as the stored text, parsed once for each
    different text (a store's carts share a handful of assignments, so thousands of rows
    cost a few parses)."""

    def __init__(self) -> None:
        self.parsed: dict[str, tuple[tuple[str, str], ...]] = {}

    def of(self, raw: str | None) -> tuple[tuple[str, str], ...]:
        if raw is None:
            return ()
        found = self.parsed.get(raw)
        if found is None:
            found = self.parsed[raw] = tuple((json.loads(raw) or {}).items())
        return found


class _Among:
    """Carts a query is about: `have(column)` is `column IN (those carts)`, shaped so that each
    database looks them up by index. Asked as a semi-join (or with an array of known size),
    PostgreSQL hashes the carts and reads the whole table past them once that looks cheaper,
    a cost that grows with all that is stored; compared with an array it cannot count, it
    looks each cart up (`= ANY`). SQLite looks `IN (query)` up by index as it is."""

    def __init__(
        self, query: Select[Any] | None, ids: Sequence[object] | None, kind: Any = BigInteger
    ) -> None:
        self.query = query
        self.ids = ids
        self.kind = kind

    def have(self, column: Any) -> ColumnElement[bool]:
        if self.query is not None:
            return column.in_(self.query)  # type: ignore[no-any-return]
        # The array comes through a subquery, so the planner plans for a few carts (index
        # lookups) and never sees how many: told 20,000, it reads the whole table instead.
        ids = select(bindparam(None, self.ids, type_=ARRAY(self.kind))).scalar_subquery()
        return column == any_(cast(ids, ARRAY(self.kind)))  # type: ignore[no-any-return]
