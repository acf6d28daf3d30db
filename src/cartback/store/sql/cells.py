"""The report's cells (`domain/cells.py`) summed by the database: one statement (on PostgreSQL
two at most), a few hundred rows for a month of a big store, where reading the carts one by one
took tens of thousands of rows of carts, messages, clicks and orders and most of the report's
time.

The period's assigned carts (`assigned`: from the time index of the store's carts, with their
runs) and their messages that went out (`sent`) are read once, and every further row is reached
through its cart's id: on PostgreSQL, for the carts at the newest end of the ids, as one range
of ids read once and hashed; for older ones, and on SQLite, a lookup by index for each
(`_readings`, `_joins`). Either way the cost follows the period, not what is stored before it.
Then five sums over them, in one statement: carts, recovered carts with their first order's
money, messages, their clicks, their opens. A cell's figures come from several rows, which
`domain/cells.py` allows. Money is grouped by its exact amounts and multiplied and added in
Python: SQLite has no exact decimal arithmetic, and a month's recovered orders and message
costs take few different amounts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Interval,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    null,
    select,
    union_all,
)
from sqlalchemy import Text as TextType

from cartback.domain.cells import Cell, CellsAsked, Per
from cartback.domain.orders import NOT_REVENUE
from cartback.store.sql.reports import OUT, serial
from cartback.store.tables import carts, clicks, messages, opens, orders, runs
from cartback.store.types import Amount

_NOT_REVENUE = [str(status) for status in NOT_REVENUE]
ZERO = Decimal("0")


SPAN = 4  # ids of the newest range read for each of the period's carts (PostgreSQL)

Ids = tuple[int, int]  # the first and last cart id a reading covers


def read_cells(conn: Connection, asked: CellsAsked) -> list[Cell]:
    serial(conn)
    arms = _ArmsText()
    found: list[Cell] = []
    for ids, by_range in _readings(conn, asked):
        sums = _Sums(conn.dialect.name, asked, ids)
        parts = (sums.carts(), sums.recovered(), sums.messages(), sums.clicks(), sums.opens())
        with _joins(conn, by_range=by_range):
            found += [_cell(row, arms) for row in conn.execute(union_all(*parts))]
    return found


def _readings(conn: Connection, asked: CellsAsked) -> list[tuple[Ids | None, bool]]:
    """How the period's carts are read: each part's range of cart ids (None: all) and
    whether every row it joins is read from that range at once (else looked up by its cart).

    Ids grow with time, so a period's carts lie mostly together at the newest end. On
    PostgreSQL the carts among the newest SPAN ids for each cart of the period are one part:
    their runs, messages, orders, clicks and opens (each indexed by its cart) are read as one
    range of ids and hashed, a cost of at most SPAN times the period whatever is stored before
    it. Older carts (one made long ago and abandoned in the period; a small store's among
    bigger ones) are the other part, each row looked up by its cart. A cart is wholly in one
    part, and cells add up. SQLite looks every row up, as one part."""
    if conn.dialect.name != "postgresql":
        return [(None, False)]
    c = carts.c
    query = select(func.count(), func.min(c.id), func.max(c.id)).where(
        c.store_id == asked.store_id, c.abandoned_at.is_not(None)
    )
    if asked.since is not None:
        query = query.where(c.abandoned_at >= asked.since)
    n, first, last = conn.execute(query).one()
    if not n:
        return []
    newest = max(first, last - SPAN * n + 1)
    readings: list[tuple[Ids | None, bool]] = []
    if newest <= last:
        readings.append(((newest, last), True))
    if first < newest:
        readings.append(((first, newest - 1), False))
    return readings


def _within(column: ColumnElement[Any], ids: Ids | None) -> list[ColumnElement[bool]]:
    """The condition that keeps a join within a part's cart ids (none: all)."""
    return [] if ids is None else [column.between(*ids)]


@contextmanager
def _joins(conn: Connection, *, by_range: bool) -> Iterator[None]:
    """How the sums join, from the period's carts on (PostgreSQL; SQLite looks each row up as
    it is). With a range of cart ids: hashed, each table read once within the range (looked
    up one by one, every row would cost a walk down a B-tree that grows a level deeper with
    all that is stored). Without one: every join a lookup by index; the planner knows how many
    carts the period has, and past a few thousand it would hash them and read the whole of
    runs, messages, orders or clicks once."""
    if conn.dialect.name != "postgresql":
        yield
        return
    settings = ("enable_nestloop",) if by_range else ("enable_hashjoin", "enable_mergejoin")
    for setting in settings:
        conn.exec_driver_sql(f"SET LOCAL {setting} = off")
    try:
        yield
    finally:
        for setting in settings:
            conn.exec_driver_sql(f"SET LOCAL {setting} TO DEFAULT")


class _Sums:
    """The five sums, each row (part, flow, held out, arms, day, step, channel, currency,
    three amounts, a count, one more count). Each sum starts from the period's assigned carts
    (`assigned`) or their sent messages (`sent`), read once, and reaches every other row by
    index from there."""

    def __init__(self, dialect: str, asked: CellsAsked, ids: Ids | None) -> None:
        self.dialect, self.window, self.per, self.ids = dialect, asked.window, asked.per, ids
        self.assigned = _assigned(dialect, asked, ids)
        self.sent = _sent(self.assigned, asked.per, ids)

    def group(self, table: Any) -> list[ColumnElement[Any]]:
        return [table.c.flow_id, table.c.holdout, table.c.arms, table.c.day]

    def head(self, part: str, table: Any) -> list[ColumnElement[Any]]:
        return [literal(part, String).label("part"), *self.group(table)]

    def carts(self) -> Select[Any]:
        """Carts (per step or channel: each once for each of its messages' steps or
        channels)."""
        a = self.assigned
        key: list[Any] = [cast(null(), Integer), cast(null(), String)]
        joined: Any = a
        if self.per != Per.CART:
            keys = select(self.sent.c.cart_id, self.sent.c.step, self.sent.c.channel)
            sent = keys.distinct().subquery()
            joined, key = a.join(sent, sent.c.cart_id == a.c.cart_id), [sent.c.step, sent.c.channel]
        return (
            select(*self.head("c", a), *key, *_no_money(), func.count(), literal(0, BigInteger))
            .select_from(joined)
            .group_by(*self.group(a), *key)
        )

    def recovered(self) -> Select[Any]:
        """Recovered carts and their first orders' money, by the amounts."""
        first = _first_orders(self.assigned, self.sent, self.per, self.ids)
        f = first.c
        recovered = and_(
            f.nth == 1,
            not_(f.test),
            f.status.not_in(_NOT_REVENUE),
            _in_window(self.dialect, f.abandoned_at, f.placed_at, self.window),
        )
        coded = exists().where(
            messages.c.cart_id == f.cart_id,
            messages.c.status.in_(OUT),
            messages.c.discount_code.is_not(None),
        )
        # Only an order with a discount asks whether the cart's messages carried our code.
        ours = and_(f.discount_total != ZERO, coded)
        money = [f.currency, f.total, f.refunded, case((ours, f.discount_total))]
        return (
            select(*self.head("r", first), f.step, f.channel, *money, func.count())
            .add_columns(literal(0, BigInteger))
            .where(recovered)
            .group_by(*self.group(first), f.step, f.channel, *money)
        )

    def messages(self) -> Select[Any]:
        m = self.sent.c
        money = [cast(null(), String), m.cost, cast(null(), Amount), cast(null(), Amount)]
        return (
            select(*self.head("m", self.sent), m.step, m.channel, *money, func.count())
            .add_columns(literal(0, BigInteger))
            .group_by(*self.group(self.sent), m.step, m.channel, m.cost)
        )

    def clicks(self) -> Select[Any]:
        """Clicks, with a 1 in the last column for machines'."""
        m, bot = self.sent.c, case((clicks.c.bot, 1), else_=0)
        joined = self.sent.join(clicks, clicks.c.message_id == m.id)
        return (
            select(*self.head("k", self.sent), m.step, m.channel, *_no_money(), func.count(), bot)
            .select_from(joined)
            .where(*_within(clicks.c.cart_id, self.ids))
            .group_by(*self.group(self.sent), m.step, m.channel, bot)
        )

    def opens(self) -> Select[Any]:
        """Opens by people."""
        m = self.sent.c
        joined = self.sent.join(opens, opens.c.message_id == m.id)
        return (
            select(*self.head("o", self.sent), m.step, m.channel, *_no_money(), func.count())
            .add_columns(literal(0, BigInteger))
            .select_from(joined)
            .where(opens.c.bot.is_(False), *_within(opens.c.cart_id, self.ids))
            .group_by(*self.group(self.sent), m.step, m.channel)
        )


def _no_money() -> list[ColumnElement[Any]]:
    return [cast(null(), String), *(cast(null(), Amount) for _ in range(3))]


def _assigned(dialect: str, asked: CellsAsked, ids: Ids | None) -> CTE:
    """The period's carts assigned in a flow: their flow, group, arms (as the stored text) and
    day of abandonment. From the time index of the store's carts, the runs read within their
    range of ids, or each looked up by its cart."""
    r, c = runs.c, carts.c
    day = (
        func.to_char(func.timezone("UTC", c.abandoned_at), "YYYY-MM-DD")
        if dialect == "postgresql"
        else func.substr(c.abandoned_at, 1, 10)
    )
    query = (
        select(
            r.cart_id,
            r.flow_id,
            r.holdout,
            cast(r.arms, TextType).label("arms"),
            c.abandoned_at,
            day.label("day"),
        )
        .select_from(carts.join(runs, r.cart_id == c.id))
        .where(c.store_id == asked.store_id, c.abandoned_at.is_not(None))
        # The range on both sides: the planner carries no range across the join's equality.
        .where(r.holdout.is_not(None), *_within(c.id, ids), *_within(r.cart_id, ids))
    )
    if asked.since is not None:
        query = query.where(c.abandoned_at >= asked.since)
    if asked.flow_id is not None:
        query = query.where(r.flow_id == asked.flow_id)
    return query.cte("assigned")


def _sent(assigned: CTE, per: Per, ids: Ids | None) -> CTE:
    """The assigned carts' messages that went out, each with its cart's group and its step or
    channel as asked (per cart: neither)."""
    a, m = assigned.c, messages.c
    step = m.step_index if per == Per.STEP else cast(null(), Integer)
    channel = func.coalesce(m.channel_used, m.channel) if per == Per.CHANNEL else None
    query = select(
        a.cart_id,
        a.flow_id,
        a.holdout,
        a.arms,
        a.day,
        m.id,
        m.cost,
        step.label("step"),
        (channel if channel is not None else cast(null(), String)).label("channel"),
    ).select_from(assigned.join(messages, m.cart_id == a.cart_id))
    return query.where(m.status.in_(OUT), *_within(m.cart_id, ids)).cte("sent")


def _first_orders(assigned: CTE, sent: CTE, per: Per, ids: Ids | None) -> Any:
    """The assigned carts' orders, each numbered in its cart's order (1: its first), with its
    cart's group (per step or channel: once for each of the cart's)."""
    a, o = assigned.c, orders.c
    key: list[Any] = [cast(null(), Integer).label("step"), cast(null(), String).label("channel")]
    joined: Any = assigned.join(orders, o.cart_id == a.cart_id)
    if per != Per.CART:
        keys = select(sent.c.cart_id, sent.c.step, sent.c.channel).distinct().subquery()
        joined, key = joined.join(keys, keys.c.cart_id == a.cart_id), [keys.c.step, keys.c.channel]
    nth = func.row_number().over(partition_by=(o.cart_id, *key), order_by=(o.placed_at, o.id))
    columns = (o.cart_id, o.placed_at, o.currency, o.total, o.refunded, o.discount_total)
    return (
        select(a.flow_id, a.holdout, a.arms, a.day, a.abandoned_at, *columns, *key)
        .add_columns(o.status, o.test, nth.label("nth"))
        .select_from(joined)
        .where(*_within(o.cart_id, ids))
        .subquery()
    )


def _in_window(
    dialect: str, abandoned: ColumnElement[Any], placed: ColumnElement[Any], window: timedelta
) -> ColumnElement[bool]:
    """Placed within `window` after abandonment, to the microsecond as Python compares. SQLite
    keeps times as text of one width (`2026-12-01 12:00:00.000000`), in order as text; the
    time between them is counted in whole microseconds since 1970 (its date functions round
    to milliseconds), and only for orders placed after abandonment (the text says that)."""
    if dialect == "postgresql":
        deadline = abandoned + bindparam(None, window, type_=Interval())
        return and_(abandoned <= placed, placed <= deadline)
    elapsed = _micros(placed) - _micros(abandoned)
    return and_(abandoned <= placed, elapsed <= window // timedelta(microseconds=1))


def _micros(column: ColumnElement[Any]) -> ColumnElement[int]:
    seconds = cast(func.strftime("%s", func.substr(column, 1, 19)), BigInteger)
    return seconds * 1_000_000 + cast(func.substr(column, 21, 6), BigInteger)


class _ArmsText:
    """Runs' arms from their stored text, parsed once for each different text."""

    def __init__(self) -> None:
        self.parsed: dict[str | None, tuple[tuple[str, str], ...]] = {}

    def of(self, raw: str | None) -> tuple[tuple[str, str], ...]:
        found = self.parsed.get(raw)
        if found is None:
            found = self.parsed[raw] = tuple((json.loads(raw) or {}).items()) if raw else ()
        return found


def _cell(row: Sequence[Any], arms: _ArmsText) -> Cell:
    """A row of the sums as a cell: amounts multiplied by how many share them."""
    part, flow, held, raw, day, step, channel, currency, first, second, third, n, bots = row
    key = (flow, bool(held), arms.of(raw), day)
    if part == "r":  # first: the order's total, second: its refunds, third: our discount
        discount = third or ZERO
        net = max(first - second, ZERO) - discount
        revenue, discounted = n * net, n * discount
        return Cell(
            *key, currency, step, channel, recovered=n, revenue=revenue, discount=discounted
        )
    if part == "c":
        return Cell(*key, None, step, channel, carts=n)
    if part == "m":  # first: the messages' cost
        return Cell(*key, None, step, channel, messages=n, spend=n * first)
    if part == "k":
        clicked = Cell(*key, None, step, channel)
        return replace(clicked, bot_clicks=n) if bots else replace(clicked, clicks=n)
    return Cell(*key, None, step, channel, opens=n)
