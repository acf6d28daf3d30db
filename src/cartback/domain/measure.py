"""From carts' outcomes, summed in cells (`cells.py`), to what the report says: the held-out
and treated groups, the lift with its interval, and each experiment's arms with the
probability that each is best.

Every figure counts carts, not messages: a cart is recovered when it was ordered within the
attribution window after abandonment (`CartOutcome.recovered`), in either group. Revenue is
what the recovered carts' orders earned (after refunds) minus what our discount codes took off
them, so an arm that gives 10% off has to earn it back to win. Clicks are people's; machines'
clicks are counted apart as `bot_clicks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from cartback.domain.best_arm import ArmCounts, judge
from cartback.domain.cells import Cell, cells_of
from cartback.domain.experiments import Experiment
from cartback.domain.outcomes import CartOutcome
from cartback.domain.stats import Group, Lift, lift, rate, wilson

ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class Tally:
    """The figures of some carts (and of some of their messages)."""

    carts: int = 0
    recovered: int = 0
    messages: int = 0
    clicks: int = 0
    bot_clicks: int = 0
    opens: int = 0
    revenue: Decimal = ZERO  # net of discount_cost
    discount_cost: Decimal = ZERO
    spend: Decimal = ZERO

    @property
    def conversion(self) -> float:
        return rate(self.recovered, self.carts)

    @property
    def revenue_per_cart(self) -> Decimal:
        return self.revenue / self.carts if self.carts else ZERO

    def group(self) -> Group:
        return Group(self.carts, self.recovered, self.revenue)


@dataclass(frozen=True, slots=True)
class Counting:
    """How carts are counted: the attribution window and the store's currency (orders in
    another currency are recovered carts, but their money is not added)."""

    window: timedelta
    currency: str | None


def tally(outcomes: Iterable[CartOutcome], counting: Counting) -> Tally:
    """The carts' figures."""
    return summed(cells_of(outcomes, counting.window), counting.currency)


def summed(cells: Iterable[Cell], currency: str | None) -> Tally:
    """The figures of these cells' carts and messages; money of recovered carts' orders in
    another currency than `currency` (None: any) is not added."""
    carts = recovered = messages = clicks = bot_clicks = opens = 0
    revenue = discounts = spend = ZERO
    for cell in cells:
        carts += cell.carts
        recovered += cell.recovered
        messages += cell.messages
        clicks += cell.clicks
        bot_clicks += cell.bot_clicks
        opens += cell.opens
        spend += cell.spend
        if currency is None or cell.currency == currency:
            revenue += cell.revenue
            discounts += cell.discount
    return Tally(carts, recovered, messages, clicks, bot_clicks, opens, revenue, discounts, spend)


@dataclass(frozen=True, slots=True)
class ArmResult:
    name: str
    tally: Tally
    ci_low: float
    ci_high: float


@dataclass(frozen=True, slots=True)
class ExperimentResult:
    id: str
    arms: tuple[ArmResult, ...]
    probability_best: dict[str, float]
    winner: str | None
    why: str


@dataclass(frozen=True, slots=True)
class Measurement:
    holdout: Tally
    treated: Tally
    lift: Lift
    experiments: tuple[ExperimentResult, ...] = field(default=())


def measure(
    outcomes: Sequence[CartOutcome], experiments: Sequence[Experiment], counting: Counting
) -> Measurement:
    return measure_cells(cells_of(outcomes, counting.window), experiments, counting.currency)


def measure_cells(
    cells: Sequence[Cell], experiments: Sequence[Experiment], currency: str | None
) -> Measurement:
    held = [c for c in cells if c.held_out]
    treated = [c for c in cells if not c.held_out]
    held_tally, treated_tally = summed(held, currency), summed(treated, currency)
    return Measurement(
        holdout=held_tally,
        treated=treated_tally,
        lift=lift(treated_tally.group(), held_tally.group(), treated_tally.spend),
        experiments=tuple(arms_of(e, treated, currency) for e in experiments),
    )


def experiment(
    config: Experiment, treated: Sequence[CartOutcome], counting: Counting
) -> ExperimentResult:
    """An experiment's arms over these treated carts' outcomes (see `arms_of`)."""
    return arms_of(config, cells_of(treated, counting.window), counting.currency)


def arms_of(config: Experiment, treated: Sequence[Cell], currency: str | None) -> ExperimentResult:
    """An experiment's arms over the treated carts assigned in it (held-out carts are the
    holdout's, whatever arm they hold); arms no longer configured are still shown."""
    by_arm: dict[str, list[Cell]] = {name: [] for name in config.names}
    for cell in treated:
        arm = cell.arm(config.id)
        if arm is not None:
            by_arm.setdefault(arm, []).append(cell)
    arms = []
    for name, cells in by_arm.items():
        figures = summed(cells, currency)
        interval = wilson(figures.recovered, figures.carts)
        arms.append(ArmResult(name, figures, interval.low, interval.high))
    counts = [ArmCounts(a.name, a.tally.carts, a.tally.recovered, a.tally.revenue) for a in arms]
    verdict = judge(counts, min_carts=config.min_carts_per_arm, goal=config.goal)
    return ExperimentResult(
        config.id, tuple(arms), verdict.probability_best, verdict.winner, verdict.why
    )
