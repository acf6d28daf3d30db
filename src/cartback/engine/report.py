"""The recovery report: per store, and the totals over stores (the API, the CLI, a dashboard).

Beside what was sent, spent and attributed, each part measures what the flows add: the
held-out and treated carts, the lift with its interval, the experiments' arms, and rows broken
down as asked (see `engine/measuring.py`).

This is where amounts leave the engine: each is rounded to its currency's minor units here, so
the report reads the same on SQLite and PostgreSQL (`0.30 DKK`, not `0.3000`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from cartback.domain.figures import StoreFigures
from cartback.domain.money import in_minor_units, ratio
from cartback.engine.measuring import (
    Cells,
    ExperimentOut,
    GroupOut,
    LiftOut,
    MeasuredOut,
    RowOut,
    Scope,
    cells,
    measured,
    together,
)
from cartback.store.base import Store


@dataclass(frozen=True, slots=True)
class OtherMoney:
    """Recovered orders in a currency that is not the store's: reported apart, never added."""

    orders: int
    revenue: Decimal


@dataclass(frozen=True, slots=True)
class StoreReport:
    store: str  # "*" for the totals over several stores
    currency: str | None
    carts_abandoned: int
    messages_sent: int
    messages_delivered: int
    sms_segments: int
    spend: Decimal
    orders_recovered: int
    recovered_revenue: Decimal
    discount_cost: Decimal
    roas: Decimal | None
    skipped: dict[str, int] = field(default_factory=dict)
    other_currencies: dict[str, OtherMoney] = field(default_factory=dict)
    clicks: int = 0
    bot_clicks: int = 0
    opens: int = 0
    holdout: GroupOut | None = None
    treated: GroupOut | None = None
    lift: LiftOut | None = None
    experiments: list[ExperimentOut] = field(default_factory=list)
    rows: list[RowOut] | None = None


@dataclass(frozen=True, slots=True)
class Report:
    total: StoreReport
    since: datetime | None
    stores: list[StoreReport]


def report(
    store: Store,
    stores: Sequence[tuple[str, str | None]],
    since: datetime | None,
    scope: Scope | None = None,
) -> Report:
    """`stores`: each store's id and configured currency (None: that of most of its orders)."""
    scope = scope or Scope()
    parts: list[StoreReport] = []
    read: dict[str, Cells] = {}
    found: MeasuredOut | None = None
    with _no_cycle_hunting(), store.reading() as tx:
        winners = tx.measure.winners()
        for sid, cur in stores:
            figures = tx.reports.figures(sid, cur, since)
            read[sid] = cells(tx.measure, sid, since, scope)
            mine = replace(scope, flows=[f for f in scope.flows if f.store_id == sid])
            part = _store_report(figures)
            found = measured(read[sid], mine, figures.currency, winners=winners)
            parts.append(_with(part, found))
    total = _combine(parts)
    one = len({p.currency for p in parts if p.currency}) <= 1
    if found is None or not _same_measure(parts, scope):
        found = measured(together(read.values()), scope, total.currency, one, winners)
    return Report(total=_with(total, found), since=since, stores=parts)


@contextmanager
def _no_cycle_hunting() -> Iterator[None]:
    """The cycle collector paused while a report is made. A report of all time, or a store
    without the database's sums (the in-memory store reads each cart's outcome), makes
    hundreds of thousands of small objects, none in a cycle, and the collector would walk the
    whole heap again and again while they are made. Reference counting still frees
    everything; the collector runs again as soon as the report that paused it ends (one made
    meanwhile in another thread found it paused, and leaves it to that one)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _same_measure(parts: list[StoreReport], scope: Scope) -> bool:
    """Whether the totals' measure is the one store's, asked the same (its flows are all the
    scope's): measuring is pure, so it is not done twice over the same carts, the most of
    a big store's report."""
    return len(parts) == 1 and all(f.store_id == parts[0].store for f in scope.flows)


def _with(part: StoreReport, found: MeasuredOut) -> StoreReport:
    return replace(
        part,
        holdout=found.holdout,
        treated=found.treated,
        lift=found.lift,
        experiments=found.experiments,
        rows=found.rows,
    )


def _store_report(f: StoreFigures) -> StoreReport:
    cur = f.currency
    return StoreReport(
        store=f.store_id,
        currency=cur,
        carts_abandoned=f.carts_abandoned,
        messages_sent=f.messages_sent,
        messages_delivered=f.messages_delivered,
        sms_segments=f.sms_segments,
        spend=in_minor_units(f.spend, cur),
        orders_recovered=f.orders_recovered,
        recovered_revenue=in_minor_units(f.recovered_revenue, cur),
        discount_cost=in_minor_units(f.discount_cost, cur),
        roas=ratio(f.recovered_revenue, f.spend),
        skipped=dict(f.skipped),
        clicks=f.clicks,
        bot_clicks=f.bot_clicks,
        opens=f.opens,
        other_currencies={
            code: OtherMoney(other.orders, in_minor_units(other.revenue, code))
            for code, other in sorted(f.other_currencies.items())
        },
    )


def _combine(parts: list[StoreReport]) -> StoreReport:
    """Totals over stores; money is only added up when all stores share one currency."""
    currencies = {p.currency for p in parts if p.currency}
    one = len(currencies) <= 1
    skipped: dict[str, int] = {}
    for p in parts:
        for reason, count in p.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    spend = sum((p.spend for p in parts), Decimal("0"))
    revenue = sum((p.recovered_revenue for p in parts), Decimal("0"))
    discounts = sum((p.discount_cost for p in parts), Decimal("0"))
    others: dict[str, OtherMoney] = {}
    for p in parts:
        for code, other in p.other_currencies.items():
            was = others.get(code, OtherMoney(0, Decimal("0")))
            others[code] = OtherMoney(was.orders + other.orders, was.revenue + other.revenue)
    return StoreReport(
        store=parts[0].store if len(parts) == 1 else "*",
        currency=next(iter(currencies)) if one and currencies else None,
        carts_abandoned=sum(p.carts_abandoned for p in parts),
        messages_sent=sum(p.messages_sent for p in parts),
        messages_delivered=sum(p.messages_delivered for p in parts),
        sms_segments=sum(p.sms_segments for p in parts),
        spend=spend if one else Decimal("0"),
        orders_recovered=sum(p.orders_recovered for p in parts),
        recovered_revenue=revenue if one else Decimal("0"),
        discount_cost=discounts if one else Decimal("0"),
        roas=ratio(revenue, spend) if one else None,
        skipped=skipped,
        other_currencies=dict(sorted(others.items())),
        clicks=sum(p.clicks for p in parts),
        bot_clicks=sum(p.bot_clicks for p in parts),
        opens=sum(p.opens for p in parts),
    )
