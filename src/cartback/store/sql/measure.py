"""Assignments, opens, a run's engagement and each assigned cart's outcome, in SQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, insert, select, update

from cartback.domain.engagement import Open
from cartback.domain.experiments import Assignment, Winner
from cartback.domain.outcomes import CartOutcome, PlacedOrder, SentMessage
from cartback.domain.records import MESSAGE_OUT
from cartback.store.sql.common import insert_ignoring_duplicates
from cartback.store.tables import carts, clicks, experiment_winners, messages, opens, orders, runs

_OUT = [str(status) for status in MESSAGE_OUT]


# Once per abandoned cart: built once, the values as parameters (the first assignment wins).
_ASSIGN = update(runs).where(runs.c.id == bindparam("assigned_id"), runs.c.holdout.is_(None))
_ASSIGNED = select(runs.c.holdout, runs.c.arms).where(runs.c.id == bindparam("assigned_id"))


class SqlMeasurements:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def assign(self, run_id: int, assignment: Assignment) -> Assignment:
        values = {"holdout": assignment.held_out, "arms": assignment.as_mapping()}
        self.conn.execute(_ASSIGN, {"assigned_id": run_id} | values)
        row = self.conn.execute(_ASSIGNED, {"assigned_id": run_id}).one()
        return Assignment.from_mapping(bool(row.holdout), row.arms or {})

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
        assigned = (
            select(carts.c.id, runs.c.flow_id, carts.c.abandoned_at, runs.c.holdout, runs.c.arms)
            .select_from(carts.join(runs, runs.c.cart_id == carts.c.id))
            .where(
                carts.c.store_id == store_id,
                carts.c.abandoned_at.is_not(None),
                runs.c.holdout.is_not(None),
            )
        )
        if since is not None:
            assigned = assigned.where(carts.c.abandoned_at >= since)
        if flow_id is not None:
            assigned = assigned.where(runs.c.flow_id == flow_id)
        ids = select(assigned.subquery().c.id)
        sent = self._messages(ids)
        with_code = {cart for cart, found in sent.items() if any(m.discount for m in found)}
        first_orders = self._orders(ids, with_code)
        return [
            CartOutcome(
                cart_id=r.id,
                flow_id=r.flow_id,
                abandoned_at=r.abandoned_at,
                held_out=bool(r.holdout),
                arms=tuple((r.arms or {}).items()),
                messages=tuple(sent.get(r.id, ())),
                order=first_orders.get(r.id),
            )
            for r in self.conn.execute(assigned.order_by(carts.c.id))
        ]

    def _messages(self, ids: Select[Any]) -> dict[int, list[SentMessage]]:
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
            .where(m.cart_id.in_(ids), m.status.in_(_OUT))
            .order_by(m.created_at, m.id)
        ).all()
        people, bots = self._counted(clicks, ids)
        seen, _bot_opens = self._counted(opens, ids)
        found: dict[int, list[SentMessage]] = defaultdict(list)
        for r in rows:
            message = SentMessage(
                id=r.id,
                channel=r.channel_used or r.channel,
                step_index=r.step_index,
                cost=r.cost,
                created_at=r.created_at,
                experiment_id=r.experiment_id,
                arm=r.arm,
                clicks=people.get(r.id, 0),
                bot_clicks=bots.get(r.id, 0),
                opens=seen.get(r.id, 0),
                discount=r.discount_code is not None,
            )
            found[r.cart_id].append(message)
        return found

    def _counted(self, table: Any, ids: Select[Any]) -> tuple[dict[str, int], dict[str, int]]:
        """Rows (clicks or opens) per message of these carts: by people, and by machines."""
        people: dict[str, int] = {}
        bots: dict[str, int] = {}
        query = (
            select(table.c.message_id, table.c.bot, func.count())
            .select_from(table.join(messages, messages.c.id == table.c.message_id))
            .where(messages.c.cart_id.in_(ids))
            .group_by(table.c.message_id, table.c.bot)
        )
        for message_id, bot, count in self.conn.execute(query):
            (bots if bot else people)[message_id] = int(count)
        return people, bots

    def _orders(self, ids: Select[Any], with_code: set[int]) -> dict[int, PlacedOrder]:
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
            .where(o.cart_id.in_(ids))
            .order_by(o.placed_at, o.id)
        )
        found: dict[int, PlacedOrder] = {}
        for r in rows:
            if r.cart_id in found:
                continue
            found[r.cart_id] = PlacedOrder.of(
                r.placed_at,
                r.currency,
                r.total,
                status=r.status,
                test=r.test,
                refunded=r.refunded,
                discount=r.discount_total if r.cart_id in with_code else Decimal("0"),
            )
        return found
