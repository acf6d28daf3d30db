"""Which experiment arm is best, and when one may be called the winner.

Each arm's conversion rate gets a Beta(1 + recovered, 1 + not recovered) posterior (a uniform
prior). The probability that arm i is best is the integral of its density times every other
arm's distribution function, computed on a grid: no sampling, so the same counts always give
the same answer. For net revenue per cart, each arm's rate is scaled by its net revenue per
recovered cart, which is taken as known (the uncertainty modelled is the conversion's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

WINNER_PROBABILITY = 0.95
_POINTS_PER_ARM = 800
_SPREAD = 12.0  # standard deviations either side of an arm's mean on the grid


class Goal(StrEnum):
    """What an experiment compares its arms by."""

    CONVERSION = "conversion"  # recovered carts / carts
    NET_REVENUE = "net_revenue"  # revenue net of discounts / carts (for discount arms)


@dataclass(frozen=True, slots=True)
class ArmCounts:
    name: str
    carts: int
    recovered: int
    net_revenue: Decimal = Decimal("0")  # revenue of the recovered carts minus discounts


@dataclass(frozen=True, slots=True)
class Judgement:
    probability_best: dict[str, float]
    winner: str | None
    why: str


def probability_best(
    counts: Sequence[tuple[int, int]], values: Sequence[float] | None = None
) -> tuple[float, ...]:
    """For arms given as (recovered, carts): the probability that each has the highest rate,
    or, with `values`, the highest rate times value. The probabilities add up to 1."""
    if not counts:
        return ()
    if values is None:
        values = [1.0] * len(counts)
    if len(values) != len(counts) or any(v <= 0 for v in values):
        raise ValueError("values must be positive, one per arm")
    arms = [
        _Posterior(recovered, carts, value)
        for (recovered, carts), value in zip(counts, values, strict=True)
    ]
    if len(arms) == 1:
        return (1.0,)
    grid = _grid(arms)
    densities = [arm.densities(grid) for arm in arms]
    cdfs = [_cumulative(grid, d) for d in densities]
    raw = []
    for i, density in enumerate(densities):
        integrand = [
            density[k] * math.prod(cdfs[j][k] for j in range(len(arms)) if j != i)
            for k in range(len(grid))
        ]
        raw.append(_trapezoid(grid, integrand))
    total = sum(raw)
    return tuple(p / total for p in raw)


def judge(
    arms: Sequence[ArmCounts],
    *,
    min_carts: int,
    goal: Goal = Goal.CONVERSION,
    threshold: float = WINNER_PROBABILITY,
) -> Judgement:
    """Probability best per arm; a winner once one reaches `threshold` and every arm has
    at least `min_carts` carts."""
    counts = [(arm.recovered, arm.carts) for arm in arms]
    values = _values(arms) if goal == Goal.NET_REVENUE else None
    chances = dict(zip((arm.name for arm in arms), probability_best(counts, values), strict=True))
    if not chances:
        return Judgement({}, None, "the experiment has no arms")
    leader = max(chances, key=lambda name: chances[name])
    short = [arm for arm in arms if arm.carts < min_carts]
    best = f"{leader} is best with probability {chances[leader]:.1%}"
    if short:
        fewest = min(short, key=lambda arm: arm.carts)
        why = (
            f"no winner yet: {best}, but arm {fewest.name} has {fewest.carts} of {min_carts} carts"
        )
        return Judgement(chances, None, why)
    if chances[leader] < threshold:
        return Judgement(chances, None, f"no winner yet: {best}, below {threshold:.0%}")
    return Judgement(
        chances, leader, f"{best} (at least {threshold:.0%}), every arm has {min_carts}+ carts"
    )


def _values(arms: Sequence[ArmCounts]) -> list[float]:
    """Net revenue per recovered cart; an arm without orders yet gets the arms' average."""
    recovered = sum(arm.recovered for arm in arms)
    pooled = float(sum(arm.net_revenue for arm in arms)) / recovered if recovered else 1.0
    fallback = pooled if pooled > 0 else 1.0
    values = [float(arm.net_revenue) / arm.recovered if arm.recovered else fallback for arm in arms]
    # A value of 0 or less (discounts ate the revenue) still ranks last, just above nothing.
    return [value if value > 0 else 1e-9 for value in values]


@dataclass(frozen=True, slots=True)
class _Posterior:
    recovered: int
    carts: int
    value: float

    def __post_init__(self) -> None:
        if self.carts < 0 or not 0 <= self.recovered <= self.carts:
            raise ValueError(f"need 0 ≤ recovered ≤ carts, got {self.recovered}/{self.carts}")

    @property
    def alpha(self) -> float:
        return 1.0 + self.recovered

    @property
    def beta(self) -> float:
        return 1.0 + self.carts - self.recovered

    def support(self) -> tuple[float, float]:
        """Where (almost) all the mass lies, in value units."""
        a, b = self.alpha, self.beta
        mean = a / (a + b)
        sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        low, high = max(0.0, mean - _SPREAD * sd), min(1.0, mean + _SPREAD * sd)
        return low * self.value, high * self.value

    def densities(self, grid: Sequence[float]) -> list[float]:
        """The density at each point; the constants worked out once for all of them (the
        report judges each experiment on a grid of hundreds of points)."""
        a, b, value = self.alpha, self.beta, self.value
        log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        found = []
        for y in grid:
            x = y / value
            if not 0.0 <= x <= 1.0 or (a > 1 and x == 0.0) or (b > 1 and x == 1.0):
                found.append(0.0)
                continue
            log_x = (a - 1) * math.log(x) if a > 1 else 0.0
            log_1x = (b - 1) * math.log1p(-x) if b > 1 else 0.0
            found.append(math.exp(log_norm + log_x + log_1x) / value)
        return found


def _grid(arms: Sequence[_Posterior]) -> list[float]:
    """Points dense where each arm's mass is, joined into one sorted grid."""
    points: set[float] = set()
    for arm in arms:
        low, high = arm.support()
        step = (high - low) / (_POINTS_PER_ARM - 1)
        points.update(low + step * k for k in range(_POINTS_PER_ARM))
    return sorted(points)


def _cumulative(grid: Sequence[float], density: Sequence[float]) -> list[float]:
    """The distribution function on the grid, scaled so that it ends at exactly 1."""
    totals = [0.0]
    for k in range(1, len(grid)):
        totals.append(totals[-1] + (grid[k] - grid[k - 1]) * (density[k] + density[k - 1]) / 2)
    end = totals[-1]
    return [t / end for t in totals] if end > 0 else totals


def _trapezoid(grid: Sequence[float], values: Sequence[float]) -> float:
    return sum(
        (grid[k] - grid[k - 1]) * (values[k] + values[k - 1]) / 2 for k in range(1, len(grid))
    )
