"""The measuring half of the report: holdout, treated, lift, experiments and breakdown rows,
in the shapes the API and the CLI answer with (rates to four places, amounts in the currency's
minor units)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from cartback.domain.breakdown import By, Row, per
from cartback.domain.breakdown import rows as rows_of
from cartback.domain.cells import Cell, CellsAsked, Per
from cartback.domain.experiments import Experiment, Winner
from cartback.domain.flow import Flow
from cartback.domain.measure import ExperimentResult, Tally, measure_cells
from cartback.domain.money import in_minor_units, ratio
from cartback.domain.stats import Lift
from cartback.store.measure import Measurements

DEFAULT_WINDOW = timedelta(days=5)  # the config's default click window


@dataclass(frozen=True, slots=True)
class Scope:
    """What to measure: the attribution window, the configured flows (their experiments and
    segments), one flow only, and a breakdown."""

    window: timedelta = DEFAULT_WINDOW
    flows: Sequence[Flow] = ()
    flow_id: str | None = None
    by: By | None = None

    def experiments(self) -> list[Experiment]:
        return [e for f in self.flows if self.flow_id in (None, f.id) for e in f.experiments]

    def segments(self) -> dict[str, str]:
        return {f.id: f.guard.label for f in self.flows if f.guard is not None}


@dataclass(frozen=True, slots=True)
class GroupOut:
    carts: int
    recovered: int
    conversion: float


@dataclass(frozen=True, slots=True)
class CartsNeededOut:
    treated: int
    holdout: int
    per_group: int  # with equal groups


@dataclass(frozen=True, slots=True)
class LiftOut:
    absolute: float
    ci_low: float
    ci_high: float
    incremental_orders: float
    incremental_revenue: Decimal
    incremental_roas: Decimal | None
    verdict: str
    carts_needed: CartsNeededOut | None


@dataclass(frozen=True, slots=True)
class ArmOut:
    name: str
    carts: int
    messages: int
    clicks: int
    recovered: int
    conversion: float
    ci_low: float
    ci_high: float
    revenue: Decimal  # net of discount_cost
    spend: Decimal
    discount_cost: Decimal
    revenue_per_cart: Decimal


@dataclass(frozen=True, slots=True)
class CalledOut:
    """An `auto_winner` experiment's called winner: new carts go to it since `called_at`."""

    arm: str
    called_at: datetime
    why: str


@dataclass(frozen=True, slots=True)
class ExperimentOut:
    id: str
    arms: list[ArmOut]
    probability_best: dict[str, float]
    winner: str | None
    why: str
    auto_winner: CalledOut | None = None


@dataclass(frozen=True, slots=True)
class RowOut:
    key: str
    carts: int
    messages: int
    clicks: int
    bot_clicks: int
    opens: int
    recovered: int
    conversion: float
    revenue: Decimal
    spend: Decimal
    discount_cost: Decimal
    revenue_per_cart: Decimal
    roas: Decimal | None
    lift: LiftOut | None = None


@dataclass(frozen=True, slots=True)
class MeasuredOut:
    holdout: GroupOut
    treated: GroupOut
    lift: LiftOut
    experiments: list[ExperimentOut] = field(default_factory=list)
    rows: list[RowOut] | None = None


@dataclass(frozen=True, slots=True)
class Cells:
    """Assigned carts summed in cells (`domain/cells.py`): per cart, and per step or channel
    when the breakdown asks for those (else empty)."""

    carts: list[Cell]
    sent: list[Cell] = field(default_factory=list)


def cells(found: Measurements, store_id: str, since: datetime | None, scope: Scope) -> Cells:
    """The store's cells the scope measures."""
    asked = CellsAsked(store_id, since, scope.window, scope.flow_id)
    carts = found.cells(asked)
    if scope.by is None or per(scope.by) == Per.CART:
        return Cells(carts)
    return Cells(carts, found.cells(replace(asked, per=per(scope.by))))


def together(parts: Iterable[Cells]) -> Cells:
    """Every store's cells, as one (for the totals)."""
    both = list(parts)
    return Cells([c for p in both for c in p.carts], [c for p in both for c in p.sent])


def measured(
    found: Cells,
    scope: Scope,
    currency: str | None,
    one_currency: bool = True,
    winners: Mapping[str, Winner] | None = None,
) -> MeasuredOut:
    """`one_currency` False (totals over stores in several currencies): no money is added;
    `winners`: the winners called so far, by experiment id."""
    measurement = measure_cells(found.carts, scope.experiments(), currency)
    money = _Money(currency, one_currency)
    rows = None
    if scope.by is not None:
        chosen = found.carts if per(scope.by) == Per.CART else found.sent
        rows = [money.row(r) for r in rows_of(chosen, scope.by, currency, scope.segments())]
    return MeasuredOut(
        holdout=_group(measurement.holdout),
        treated=_group(measurement.treated),
        lift=money.lift(measurement.lift),
        experiments=[
            money.experiment(e, (winners or {}).get(e.id)) for e in measurement.experiments
        ],
        rows=rows,
    )


def _group(t: Tally) -> GroupOut:
    return GroupOut(t.carts, t.recovered, _rate(t.conversion))


def _rate(value: float) -> float:
    return round(value, 4)


@dataclass(frozen=True, slots=True)
class _Money:
    currency: str | None
    added: bool

    def amount(self, value: Decimal) -> Decimal:
        return in_minor_units(value, self.currency) if self.added else Decimal("0")

    def lift(self, found: Lift) -> LiftOut:
        needed = found.needed
        return LiftOut(
            absolute=_rate(found.absolute),
            ci_low=_rate(found.ci_low),
            ci_high=_rate(found.ci_high),
            incremental_orders=round(found.incremental_orders, 1),
            incremental_revenue=self.amount(found.incremental_revenue),
            incremental_roas=found.incremental_roas if self.added else None,
            verdict=found.verdict,
            carts_needed=CartsNeededOut(needed.treated, needed.holdout, needed.per_group)
            if needed is not None
            else None,
        )

    def experiment(self, found: ExperimentResult, called: Winner | None) -> ExperimentOut:
        arms = [
            ArmOut(
                name=arm.name,
                carts=arm.tally.carts,
                messages=arm.tally.messages,
                clicks=arm.tally.clicks,
                recovered=arm.tally.recovered,
                conversion=_rate(arm.tally.conversion),
                ci_low=_rate(arm.ci_low),
                ci_high=_rate(arm.ci_high),
                revenue=self.amount(arm.tally.revenue),
                spend=self.amount(arm.tally.spend),
                discount_cost=self.amount(arm.tally.discount_cost),
                revenue_per_cart=self.amount(arm.tally.revenue_per_cart),
            )
            for arm in found.arms
        ]
        chances = {name: _rate(p) for name, p in found.probability_best.items()}
        auto = CalledOut(called.arm, called.called_at, called.why) if called else None
        return ExperimentOut(found.id, arms, chances, found.winner, found.why, auto)

    def row(self, found: Row) -> RowOut:
        t = found.tally
        return RowOut(
            key=found.key,
            carts=t.carts,
            messages=t.messages,
            clicks=t.clicks,
            bot_clicks=t.bot_clicks,
            opens=t.opens,
            recovered=t.recovered,
            conversion=_rate(t.conversion),
            revenue=self.amount(t.revenue),
            spend=self.amount(t.spend),
            discount_cost=self.amount(t.discount_cost),
            revenue_per_cart=self.amount(t.revenue_per_cart),
            roas=ratio(t.revenue, t.spend) if self.added else None,
            lift=self.lift(found.lift) if found.lift is not None else None,
        )
