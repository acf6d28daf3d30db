"""The raw figures of a store's report: what was abandoned, sent, spent and won back."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    case,
    distinct,
    exists,
    false,
    func,
    select,
)

from cartback.domain.figures import Activity, StoreFigures
from cartback.domain.orders import counts
from cartback.domain.orders import revenue as earned
from cartback.domain.records import (
    MESSAGE_OUT,
    NOT_SENT,
    DecisionAction,
    MessageStatus,
)
from cartback.store.sql.common import among
from cartback.store.tables import carts, clicks, decisions, messages, opens, orders

OUT = [str(status) for status in MESSAGE_OUT]  # messages that went out, as stored
_NOT_SENT = sorted(str(action) for action in NOT_SENT)
_PASSED = [str(DecisionAction.SEND), str(DecisionAction.HOLDOUT)]  # the checks let it through


class SqlReports:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def figures(self, store_id: str, currency: str | None, since: datetime | None) -> StoreFigures:
        serial(self.conn)
        out = StoreFigures(store_id, currency or self._usual_currency(store_id))
        out.carts_abandoned = self._abandoned(store_id, since)
        self._add_messages(out, since)
        self._add_orders(out, since)
        self._add_engagement(out, since)
        out.skipped = self._skips(store_id, since)
        return out

    def activity(self, store_ids: Collection[str], since: datetime | None) -> Activity:
        serial(self.conn)
        ids = list(store_ids)
        created = select(func.count()).where(carts.c.store_id.in_(ids))
        messaged = select(func.count(distinct(messages.c.cart_id))).where(
            messages.c.store_id.in_(ids), messages.c.status.in_(OUT)
        )
        eligible = select(func.count(distinct(decisions.c.cart_id))).where(
            decisions.c.action.in_(_PASSED)
        )
        clicked = select(func.count(distinct(clicks.c.cart_id))).where(clicks.c.bot.is_(False))
        revenue = select(
            orders.c.placed_at, orders.c.total, orders.c.status, orders.c.test, orders.c.refunded
        ).where(orders.c.store_id.in_(ids), orders.c.recovered)
        spend = select(messages.c.created_at, messages.c.cost).where(
            messages.c.store_id.in_(ids), messages.c.status.in_(OUT)
        )
        eligible = _in_stores(eligible, decisions, carts, decisions.c.cart_id, ids, since)
        clicked = _in_stores(clicked, clicks, carts, clicks.c.cart_id, ids, since)
        if since is not None:
            created = created.where(carts.c.created_at >= since)
            eligible = eligible.where(decisions.c.at >= since)
            messaged = messaged.where(messages.c.created_at >= since)
            clicked = clicked.where(clicks.c.at >= since)
            revenue = revenue.where(orders.c.placed_at >= since)
            spend = spend.where(messages.c.created_at >= since)
        return Activity(
            carts=int(self.conn.execute(created).scalar_one()),
            eligible_carts=int(self.conn.execute(eligible).scalar_one()),
            messaged_carts=int(self.conn.execute(messaged).scalar_one()),
            clicked_carts=int(self.conn.execute(clicked).scalar_one()),
            revenue=tuple(
                (r.placed_at, earned(r.total, r.status, r.test, r.refunded))
                for r in self.conn.execute(revenue)
                if counts(r.status, r.test)
            ),
            spend=tuple((r.created_at, r.cost) for r in self.conn.execute(spend)),
        )

    def _usual_currency(self, store_id: str) -> str | None:
        """A store without a configured currency: the one most of its orders are in (Shopify's
        are in shop money), else its carts'."""
        for table in (orders, carts):
            found: str | None = self.conn.execute(
                select(table.c.currency)
                .where(table.c.store_id == store_id)
                .group_by(table.c.currency)
                .order_by(func.count().desc(), table.c.currency)
                .limit(1)
            ).scalar()
            if found is not None:
                return found
        return None

    def _abandoned(self, store_id: str, since: datetime | None) -> int:
        query = select(func.count()).where(
            carts.c.store_id == store_id, carts.c.abandoned_at.is_not(None)
        )
        if since is not None:
            query = query.where(carts.c.abandoned_at >= since)
        return int(self.conn.execute(query).scalar_one())

    def _add_messages(self, out: StoreFigures, since: datetime | None) -> None:
        kinds = (
            messages.c.status,
            messages.c.channel,
            messages.c.channel_used,
            messages.c.segments,
            messages.c.provider_segments,
            messages.c.cost,
        )
        query = (
            select(*kinds, func.count().label("n"))
            .where(messages.c.store_id == out.store_id, messages.c.status.in_(OUT))
            .group_by(*kinds)
        )
        if since is not None:
            query = query.where(messages.c.created_at >= since)
        # Amounts are multiplied and summed in Python: SQLite has no exact decimal arithmetic.
        # Counted by kind, a month of a busy store is a few rows, not one per message.
        for row in self.conn.execute(query):
            out.messages_sent += row.n
            out.messages_delivered += row.n * (row.status == MessageStatus.DELIVERED)
            if (row.channel_used or row.channel) == "sms":
                # What the gateway billed where it said so (inMobile smsCount, Twilio NumSegments).
                out.sms_segments += row.n * (row.provider_segments or row.segments)
            out.spend += row.n * row.cost

    def _add_orders(self, out: StoreFigures, since: datetime | None) -> None:
        # Whether our message carried a code is asked only of an order with a discount (a
        # look-up of its message by id, which is random: pages all over a big store's index).
        coded = exists().where(
            messages.c.id == orders.c.attributed_message_id,
            messages.c.discount_code.is_not(None),
        )
        ours = case((orders.c.discount_total != Decimal("0"), coded), else_=false())
        kinds = (
            orders.c.currency,
            orders.c.total,
            orders.c.status,
            orders.c.test,
            orders.c.refunded,
            orders.c.discount_total,
            ours,
        )
        query = (
            select(*kinds, func.count())
            .where(orders.c.store_id == out.store_id, orders.c.recovered)
            .group_by(*kinds)
        )
        if since is not None:
            query = query.where(orders.c.placed_at >= since)
        # Counted by kind, like the messages: a month's orders share a few amounts and states.
        for currency, total, status, test, refunded, discount, ours, n in self.conn.execute(query):
            out.add_recovered_order(
                currency,
                total,
                status=status,
                test=test,
                refunded=refunded,
                discount=discount if ours else Decimal("0"),
                times=n,
            )

    def _add_engagement(self, out: StoreFigures, since: datetime | None) -> None:
        """Clicks by people and by machines on the store's links; opens by people."""
        clicked = self._by_bot(clicks, out.store_id, since)
        out.clicks, out.bot_clicks = clicked.get(False, 0), clicked.get(True, 0)
        out.opens = self._by_bot(opens, out.store_id, since).get(False, 0)

    def _by_bot(self, table: Table, store_id: str, since: datetime | None) -> dict[bool, int]:
        # The store through the cart (its id grows with time: a period's look-ups stay in the
        # recent end of the index), not the message (a random id).
        query = select(table.c.bot, func.count()).group_by(table.c.bot)
        query = _in_stores(query, table, carts, table.c.cart_id, [store_id], since)
        if since is not None:
            query = query.where(table.c.at >= since)
        return {bool(bot): int(count) for bot, count in self.conn.execute(query)}

    def _skips(self, store_id: str, since: datetime | None) -> dict[str, int]:
        # With a period, the grouping may not lead (see `_by_value`).
        reason = decisions.c.reason if since is None else _by_value(decisions.c.reason)
        # The actions written into the statement, as the partial index of them says them
        # (`ix_decisions_skipped_at`): the planner then knows that index holds every row asked.
        query = (
            select(reason, func.count())
            .where(among(decisions.c.action, _NOT_SENT))
            .group_by(reason)
        )
        query = _in_stores(query, decisions, carts, decisions.c.cart_id, [store_id], since)
        if since is not None:
            query = query.where(decisions.c.at >= since)
        return {reason: int(count) for reason, count in self.conn.execute(query)}


def _in_stores(
    query: Select[Any],
    table: Table,
    owner: Table,
    key: ColumnElement[Any],
    store_ids: list[str],
    since: datetime | None,
) -> Select[Any]:
    """`query` over `table`'s rows whose `owner` (found by `key`, its id) is of these stores.
    All time, through a join from the stores' rows. For a period, the period's time index must
    lead, whatever else is stored: each row's owner is looked up by its id, a subquery per row
    that neither database turns into a join (joined, PostgreSQL hashes the period's rows and
    reads every owner past them once there are a few thousand; SQLite walks every row of the
    store)."""
    if since is None:
        joined = query.select_from(table.join(owner, owner.c.id == key))
        return joined.where(owner.c.store_id.in_(store_ids))
    store = select(owner.c.store_id).where(owner.c.id == key).scalar_subquery()
    return query.where(store.in_(store_ids))


def _by_value(column: ColumnElement[str]) -> ColumnElement[str]:
    """The column as a value no index can serve, so that the period's time index leads:
    without statistics of ranges SQLite would rather read every decision in the order of the
    reasons it groups by, a cost that grows with all that is stored. (PostgreSQL leads with
    the period by itself.)"""
    return column.concat("")


def serial(conn: Connection) -> None:
    """For the rest of this transaction (PostgreSQL), no parallel workers, and plans made for
    the values asked. A report's queries read a period's few thousand rows by index, which one
    process does in a few milliseconds; the planner still hands the bigger tables' scans to
    workers, whose start costs more than they save (ten to twenty milliseconds a query on a
    busy machine), and it does so only once the tables are big: a cost that would grow with all
    that is stored. A connection keeps the statements psycopg prepared on it, and after a few
    runs PostgreSQL may plan a prepared one once for any values (a generic plan): for a report
    the best plan depends on the store and the period asked, and its planning is a small part
    of its time, so every run is planned for its own (`plan_cache_mode`). One statement, both
    settings local to the transaction (`set_config(…, true)` is `SET LOCAL`)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_SERIAL)


_SERIAL = (
    "SELECT set_config('max_parallel_workers_per_gather', '0', true),"
    " set_config('plan_cache_mode', 'force_custom_plan', true)"
)
