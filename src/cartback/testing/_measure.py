"""Assignments, opens, a run's engagement and each assigned cart's outcome, in memory."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from cartback.domain.cells import Cell, CellsAsked, cells_of
from cartback.domain.engagement import Open
from cartback.domain.experiments import Assignment, Winner
from cartback.domain.outcomes import CartOutcome, PlacedOrder, SentMessage
from cartback.domain.records import MESSAGE_OUT, Click, Message, Run
from cartback.testing._data import Data
from cartback.testing._tables import StoreConflict, require, updated, utc, utc_or_none


class MemoryMeasurements:
    def __init__(self, data: Data) -> None:
        self.data = data

    def assign(self, run_id: int, assignment: Assignment) -> Assignment:
        run = self.data.runs.get(run_id)
        if run is None:
            raise StoreConflict(f"assignment for run {run_id}, which does not exist")
        if run.held_out is None:
            run = updated(run, held_out=assignment.held_out, arms=assignment.arms)
            self.data.runs.replace(run_id, run)
        return Assignment(bool(run.held_out), run.arms)

    def add_open(self, opened: Open) -> None:
        require(self.data.messages, opened.message_id, "message")
        open_id = self.data.open_ids.next()
        agent = (opened.user_agent or "")[:300] or None
        self.data.opens.insert(
            open_id, updated(opened, id=open_id, at=utc(opened.at), user_agent=agent)
        )

    def opens_for_cart(self, cart_id: int) -> list[Open]:
        found = [o for o in self.data.opens.values() if o.cart_id == cart_id]
        return sorted(found, key=lambda o: (o.at, o.id))

    def engagement(self, run_id: int) -> tuple[frozenset[str], frozenset[str]]:
        opened: set[str] = set()
        clicked: set[str] = set()
        for message in self._of_run(run_id):
            channel = message.channel_used or message.channel
            if any(not o.bot for o in self._opens(message.id)):
                opened.add(channel)
            if any(not c.bot for c in self._clicks(message.id)):
                clicked.add(channel)
        return frozenset(opened), frozenset(clicked)

    def call_winner(self, winner: Winner) -> bool:
        if winner.experiment_id in self.data.winners.rows:
            return False
        kept = updated(winner, called_at=utc(winner.called_at))
        self.data.winners.insert(winner.experiment_id, kept)
        return True

    def winners(self) -> dict[str, Winner]:
        return dict(self.data.winners.rows)

    def outcomes(
        self, store_id: str, since: datetime | None, flow_id: str | None = None
    ) -> list[CartOutcome]:
        since = utc_or_none(since)
        found = []
        for cart in sorted(self.data.carts.values(), key=lambda c: c.id):
            run = self._run(cart.id)
            if cart.store_id != store_id or cart.abandoned_at is None or run is None:
                continue
            if run.held_out is None or (since is not None and cart.abandoned_at < since):
                continue
            if flow_id is not None and run.flow_id != flow_id:
                continue
            sent = tuple(self._sent(m) for m in self._messages(cart.id))
            found.append(
                CartOutcome(
                    cart_id=cart.id,
                    flow_id=run.flow_id,
                    abandoned_at=cart.abandoned_at,
                    held_out=run.held_out,
                    arms=run.arms,
                    messages=sent,
                    order=self._order(cart.id, any(m.discount for m in sent)),
                )
            )
        return found

    def cells(self, asked: CellsAsked) -> list[Cell]:
        found = self.outcomes(asked.store_id, asked.since, asked.flow_id)
        return cells_of(found, asked.window, asked.per)

    def _run(self, cart_id: int) -> Run | None:
        run_id = self.data.run_by_cart.get(cart_id)
        return None if run_id is None else self.data.runs.get(run_id)

    def _of_run(self, run_id: int) -> list[Message]:
        rows = self.data.messages.rows
        return [rows[i] for i in self.data.messages_by_run.get(run_id)]

    def _messages(self, cart_id: int) -> list[Message]:
        rows = self.data.messages.rows
        out = [rows[i] for i in self.data.messages_by_cart.get(cart_id)]
        return sorted(
            (m for m in out if m.status in MESSAGE_OUT), key=lambda m: (m.created_at, m.id)
        )

    def _clicks(self, message_id: str) -> list[Click]:
        rows = self.data.clicks.rows
        return [rows[i] for i in self.data.clicks_by_message.get(message_id)]

    def _opens(self, message_id: str) -> list[Open]:
        rows = self.data.opens.rows
        return [rows[i] for i in self.data.opens_by_message.get(message_id)]

    def _sent(self, m: Message) -> SentMessage:
        clicks = self._clicks(m.id)
        return SentMessage(
            id=m.id,
            channel=m.channel_used or m.channel,
            step_index=m.step_index,
            cost=m.cost,
            created_at=m.created_at,
            experiment_id=m.experiment_id,
            arm=m.arm,
            clicks=sum(1 for c in clicks if not c.bot),
            bot_clicks=sum(1 for c in clicks if c.bot),
            opens=sum(1 for o in self._opens(m.id) if not o.bot),
            discount=m.discount_code is not None,
        )

    def _order(self, cart_id: int, with_code: bool) -> PlacedOrder | None:
        rows = self.data.orders.rows
        placed = sorted(
            (rows[i] for i in self.data.orders_by_cart.get(cart_id)),
            key=lambda o: (o.placed_at, o.id),
        )
        if not placed:
            return None
        first = placed[0]
        return PlacedOrder.of(
            first.placed_at,
            first.currency,
            first.total,
            status=first.status,
            test=first.test,
            refunded=first.refunded,
            discount=first.discount_total if with_code else Decimal("0"),
        )
