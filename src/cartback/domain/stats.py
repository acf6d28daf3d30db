"""What the numbers can and cannot say: intervals for conversion rates and for the lift over a
holdout, the carts a test still needs, and the probability that each experiment arm is best.

Pure functions on counts. Rates are floats (they are estimates); amounts stay `Decimal`.
References: Wilson (1927) for one proportion; Newcombe (1998, Statistics in Medicine 17:873,
method 10, the "hybrid score" interval) for the difference of two; the sample size is the
normal-approximation formula for two proportions (Fleiss, without continuity correction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist

_NORMAL = NormalDist()
_CENT = Decimal("0.01")


def z_for(confidence: float) -> float:
    """The two-sided normal quantile: 1.96 for 0.95."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return _NORMAL.inv_cdf(0.5 + confidence / 2)


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def wilson(successes: int, trials: int, confidence: float = 0.95) -> Interval:
    """Wilson's score interval for successes/trials; no trials say nothing: [0, 1]."""
    _check_counts(successes, trials)
    if trials == 0:
        return Interval(0.0, 1.0)
    z = z_for(confidence)
    z2 = z * z
    centre = (successes + z2 / 2) / (trials + z2)
    spread = z / (trials + z2) * math.sqrt(successes * (trials - successes) / trials + z2 / 4)
    # At 0 or `trials` successes the formula lands on the bound, up to rounding.
    low = 0.0 if successes == 0 else max(0.0, centre - spread)
    high = 1.0 if successes == trials else min(1.0, centre + spread)
    return Interval(low, high)


def newcombe(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, confidence: float = 0.95
) -> Interval:
    """Newcombe's hybrid score interval for rate a - rate b, from each rate's Wilson interval."""
    p_a, p_b = rate(successes_a, trials_a), rate(successes_b, trials_b)
    a, b = wilson(successes_a, trials_a, confidence), wilson(successes_b, trials_b, confidence)
    difference = p_a - p_b
    low = difference - math.hypot(p_a - a.low, b.high - p_b)
    high = difference + math.hypot(a.high - p_a, p_b - b.low)
    return Interval(max(-1.0, low), min(1.0, high))


def rate(successes: int, trials: int) -> float:
    _check_counts(successes, trials)
    return successes / trials if trials else 0.0


def carts_needed(
    rate_treated: float,
    rate_holdout: float,
    *,
    ratio: float = 1.0,
    alpha: float = 0.05,
    power: float = 0.8,
) -> tuple[int, int] | None:
    """(treated, holdout) carts for a two-sided test at `alpha` to find this difference with
    `power`, with `ratio` treated carts per holdout cart; None when the rates are equal.

    With ratio 1 this is the textbook per-group size, e.g. 0.50 vs 0.75 at power 0.9: 77.
    """
    if not (0 <= rate_treated <= 1 and 0 <= rate_holdout <= 1):
        raise ValueError("rates must be between 0 and 1")
    if ratio <= 0:
        raise ValueError(f"ratio must be positive, got {ratio}")
    effect = abs(rate_treated - rate_holdout)
    if effect == 0:
        return None
    pooled = (ratio * rate_treated + rate_holdout) / (ratio + 1)
    z_alpha, z_beta = z_for(1 - alpha), _NORMAL.inv_cdf(power)
    spread_null = math.sqrt(pooled * (1 - pooled) * (1 + 1 / ratio))
    spread_alt = math.sqrt(
        rate_treated * (1 - rate_treated) / ratio + rate_holdout * (1 - rate_holdout)
    )
    holdout = ((z_alpha * spread_null + z_beta * spread_alt) / effect) ** 2
    return math.ceil(ratio * holdout - 1e-9), math.ceil(holdout - 1e-9)


# The lift over a holdout ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Group:
    """Abandoned carts of one group, those ordered within the attribution window, their revenue."""

    carts: int
    recovered: int
    revenue: Decimal = Decimal("0")

    @property
    def conversion(self) -> float:
        return rate(self.recovered, self.carts)


@dataclass(frozen=True, slots=True)
class CartsNeeded:
    per_group: int  # with equal groups
    treated: int  # with the groups' current proportions
    holdout: int


@dataclass(frozen=True, slots=True)
class Lift:
    absolute: float  # treated conversion - holdout conversion
    ci_low: float
    ci_high: float
    incremental_orders: float
    incremental_revenue: Decimal
    incremental_roas: Decimal | None  # None without spend
    verdict: str
    needed: CartsNeeded | None  # while the interval spans 0 and there is an effect to find

    @property
    def significant(self) -> bool:
        return not self.ci_low <= 0 <= self.ci_high


NOT_ENOUGH_DATA = "not enough data yet"


def lift(treated: Group, holdout: Group, spend: Decimal, confidence: float = 0.95) -> Lift:
    """What the messages added over the holdout, with a 95% interval and a verdict in words.

    Incremental revenue is the revenue per treated cart minus the revenue per holdout cart,
    times the treated carts; incremental ROAS divides it by what the messages cost.
    """
    interval = newcombe(
        treated.recovered, treated.carts, holdout.recovered, holdout.carts, confidence
    )
    absolute = treated.conversion - holdout.conversion
    per_cart = _per_cart(treated) - _per_cart(holdout)
    revenue = (per_cart * treated.carts).quantize(_CENT)
    roas = (revenue / spend).quantize(_CENT) if spend > 0 else None
    needed = None
    if interval.contains(0) and treated.carts and holdout.carts:
        needed = _needed(treated, holdout)
    return Lift(
        absolute=absolute,
        ci_low=interval.low,
        ci_high=interval.high,
        incremental_orders=absolute * treated.carts,
        incremental_revenue=revenue,
        incremental_roas=roas,
        verdict=_verdict(treated, holdout, interval, needed),
        needed=needed,
    )


def _per_cart(group: Group) -> Decimal:
    return group.revenue / group.carts if group.carts else Decimal("0")


def _needed(treated: Group, holdout: Group) -> CartsNeeded | None:
    equal = carts_needed(treated.conversion, holdout.conversion)
    current = carts_needed(
        treated.conversion, holdout.conversion, ratio=treated.carts / holdout.carts
    )
    if equal is None or current is None:
        return None
    return CartsNeeded(per_group=equal[0], treated=current[0], holdout=current[1])


def _verdict(treated: Group, holdout: Group, interval: Interval, needed: CartsNeeded | None) -> str:
    if not holdout.carts or not treated.carts:
        group = "held out" if not holdout.carts else "treated"
        return f"{NOT_ENOUGH_DATA}: no {group} carts yet"
    if interval.low > 0:
        return "the flow recovers more carts than the holdout"
    if interval.high < 0:
        return "the holdout converts better: the messages cost orders"
    if needed is None:
        return f"{NOT_ENOUGH_DATA}: no difference from the holdout so far"
    points = (treated.conversion - holdout.conversion) * 100
    return (
        f"{NOT_ENOUGH_DATA}: to tell a difference of {points:+.1f} points apart, about "
        f"{needed.treated:,} treated and {needed.holdout:,} held-out carts are needed "
        f"(now {treated.carts:,} and {holdout.carts:,})"
    )


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 ≤ successes ≤ trials, got {successes}/{trials}")
