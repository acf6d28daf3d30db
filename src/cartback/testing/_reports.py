"""A store's report figures, counted over the in-memory tables as the SQL store counts them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal

from cartback.domain.figures import Activity, StoreFigures
from cartback.domain.orders import counts
from cartback.domain.orders import revenue as earned
from cartback.domain.records import MESSAGE_OUT, NOT_SENT, DecisionAction, MessageStatus
from cartback.testing._data import Data
from cartback.testing._tables import utc_or_none


class MemoryReports:
    def __init__(self, data: Data) -> None:
        self.data = data

    def figures(self, store_id: str, currency: str | None, since: datetime | None) -> StoreFigures:
        since = utc_or_none(since)
        out = StoreFigures(store_id, currency or self._usual_currency(store_id))
        store_carts: set[int] = set()
        for cart in self.data.carts.values():
            if cart.store_id != store_id:
                continue
            store_carts.add(cart.id)
            if cart.abandoned_at is not None and (since is None or cart.abandoned_at >= since):
                out.carts_abandoned += 1
        self._messages(out, since)
        self._orders(out, since)
        self._engagement(out, since)
        out.skipped = self._skips(store_carts, since)
        return out

    def activity(self, store_ids: Collection[str], since: datetime | None) -> Activity:
        since = utc_or_none(since)
        ids = set(store_ids)
        mine = {c.id for c in self.data.carts.values() if c.store_id in ids}
        created = sum(
            1
            for c in self.data.carts.values()
            if c.id in mine and (since is None or c.created_at >= since)
        )
        out = [
            m
            for m in self.data.messages.values()
            if m.store_id in ids
            and m.status in MESSAGE_OUT
            and (since is None or m.created_at >= since)
        ]
        clicked = {
            c.cart_id
            for c in self.data.clicks.values()
            if c.cart_id in mine and not c.bot and (since is None or c.at >= since)
        }
        eligible = {
            d.cart_id
            for d in self.data.decisions.values()
            if d.cart_id in mine
            and d.action in (DecisionAction.SEND, DecisionAction.HOLDOUT)
            and (since is None or d.at >= since)
        }
        revenue = [
            (o.placed_at, earned(o.total, o.status, o.test, o.refunded))
            for o in self.data.orders.values()
            if o.store_id in ids
            and o.recovered
            and counts(o.status, o.test)
            and (since is None or o.placed_at >= since)
        ]
        return Activity(
            carts=created,
            eligible_carts=len(eligible),
            messaged_carts=len({m.cart_id for m in out}),
            clicked_carts=len(clicked),
            revenue=tuple(revenue),
            spend=tuple((m.created_at, m.cost) for m in out),
        )

    def _messages(self, out: StoreFigures, since: datetime | None) -> None:
        for m in self.data.messages.values():
            if m.store_id != out.store_id or m.status not in MESSAGE_OUT:
                continue
            if since is not None and m.created_at < since:
                continue
            out.messages_sent += 1
            out.messages_delivered += m.status == MessageStatus.DELIVERED
            if (m.channel_used or m.channel) == "sms":
                out.sms_segments += m.provider_segments or m.segments
            out.spend += m.cost

    def _orders(self, out: StoreFigures, since: datetime | None) -> None:
        for order in self.data.orders.values():
            if order.store_id != out.store_id or not order.recovered:
                continue
            if since is not None and order.placed_at < since:
                continue
            won_by = self.data.messages.get(order.attributed_message_id or "")
            out.add_recovered_order(
                order.currency,
                order.total,
                status=order.status,
                test=order.test,
                refunded=order.refunded,
                discount=order.discount_total
                if won_by is not None and won_by.discount_code
                else Decimal("0"),
            )

    def _engagement(self, out: StoreFigures, since: datetime | None) -> None:
        def ours(message_id: str, at: datetime) -> bool:
            message = self.data.messages.get(message_id)
            in_time = since is None or at >= since
            return message is not None and message.store_id == out.store_id and in_time

        for click in self.data.clicks.values():
            if ours(click.message_id, click.at):
                out.bot_clicks += click.bot
                out.clicks += not click.bot
        out.opens = sum(
            1 for o in self.data.opens.values() if ours(o.message_id, o.at) and not o.bot
        )

    def _usual_currency(self, store_id: str) -> str | None:
        """The currency most of the store's orders are in, else most of its carts (ties: the
        first in the alphabet), as the SQL store chooses it."""
        for rows in (self.data.orders.values(), self.data.carts.values()):
            seen = Counter(row.currency for row in rows if row.store_id == store_id)
            if seen:
                return min(seen, key=lambda code: (-seen[code], code))
        return None

    def _skips(self, store_carts: set[int], since: datetime | None) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for entry in self.data.decisions.values():
            if entry.action not in NOT_SENT or entry.cart_id not in store_carts:
                continue
            if since is None or entry.at >= since:
                counts[entry.reason] += 1
        return dict(counts)
