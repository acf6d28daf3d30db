"""Shaping the report's measurement for the pages: the holdout's lift and the experiments.

The report (`GET /api/report`) carries `holdout`, `treated`, `lift` and `experiments` once a
flow has a holdout or an experiment. These functions read them from the report as plain
mappings, so that the pages show exactly what the API answers, and give None or nothing when
the report has no such figures: the pages then show nothing, never a made-up figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any


def number(value: Any) -> Decimal | None:
    """A figure as the report gives it (a Decimal, a number or its JSON string), or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def count(value: Any) -> int:
    found = number(value)
    return int(found) if found is not None else 0


@dataclass(frozen=True, slots=True)
class Group:
    """Carts in the holdout or treated, how many ordered, and that share."""

    carts: int
    recovered: int
    conversion: Decimal | None


@dataclass(frozen=True, slots=True)
class Lift:
    treated: Group
    holdout: Group
    absolute: Decimal | None  # treated conversion minus holdout conversion
    ci_low: Decimal | None  # its 95% interval
    ci_high: Decimal | None
    incremental_orders: Decimal | None
    incremental_revenue: Decimal | None
    incremental_roas: Decimal | None
    verdict: str | None  # e.g. "not enough data yet", while the interval spans 0

    @property
    def settled(self) -> bool:
        """The interval lies wholly above or below 0: the flow's effect has a sign."""
        if self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low > 0 or self.ci_high < 0


def _group(found: Any) -> Group:
    given = found if isinstance(found, Mapping) else {}
    return Group(
        count(given.get("carts")), count(given.get("recovered")), number(given.get("conversion"))
    )


def lift(report: Mapping[str, Any], holdout_runs: bool) -> Lift | None:
    """The lift over the holdout, where a holdout runs (`holdout_runs`: a flow has
    `holdout:`) or held-out carts are in the period; else None."""
    found = report.get("lift")
    holdout = report.get("holdout")
    if not isinstance(found, Mapping) or not isinstance(holdout, Mapping):
        return None
    if not holdout_runs and not count(holdout.get("carts")):
        return None
    verdict = found.get("verdict")
    return Lift(
        treated=_group(report.get("treated")),
        holdout=_group(holdout),
        absolute=number(found.get("absolute")),
        ci_low=number(found.get("ci_low")),
        ci_high=number(found.get("ci_high")),
        incremental_orders=number(found.get("incremental_orders")),
        incremental_revenue=number(found.get("incremental_revenue")),
        incremental_roas=number(found.get("incremental_roas")),
        verdict=str(verdict) if verdict else None,
    )


@dataclass(frozen=True, slots=True)
class Arm:
    name: str
    carts: int
    messages: int
    clicks: int
    recovered: int
    conversion: Decimal | None
    ci_low: Decimal | None
    ci_high: Decimal | None
    revenue: Decimal | None  # net of the discount its codes gave
    spend: Decimal | None
    discount_cost: Decimal | None
    revenue_per_cart: Decimal | None
    probability_best: Decimal | None
    winner: bool


@dataclass(frozen=True, slots=True)
class Called:
    """An `auto_winner` experiment's called winner: new carts go to `arm` since `at`."""

    arm: str
    at: datetime | None
    why: str


@dataclass(frozen=True, slots=True)
class Experiment:
    id: str
    arms: list[Arm]
    winner: str | None
    why: str | None = None  # the report's own words for the winner or its absence
    called: Called | None = None

    @property
    def state(self) -> str:
        """The winner, or why there is none yet, in plain words."""
        if self.winner:
            said = self.why or "its chance of being best is at least 95%"
            return f"{self.winner} wins: {said}."
        said = self.why or "no arm is best with 95% certainty over enough carts"
        return f"No winner yet: {said}."


def experiments(report: Mapping[str, Any]) -> list[Experiment]:
    found = report.get("experiments")
    if not isinstance(found, Sequence) or isinstance(found, str):
        return []
    return [_experiment(each) for each in found if isinstance(each, Mapping)]


def _experiment(found: Mapping[str, Any]) -> Experiment:
    best = found.get("probability_best")
    chances = best if isinstance(best, Mapping) else {}
    winner = found.get("winner")
    arms = [
        _arm(arm, chances, winner) for arm in found.get("arms") or [] if isinstance(arm, Mapping)
    ]
    why = found.get("why")
    return Experiment(
        str(found.get("id") or ""),
        arms,
        str(winner) if winner else None,
        str(why).rstrip(".") if why else None,
        _called(found.get("auto_winner")),
    )


def _called(found: Any) -> Called | None:
    if not isinstance(found, Mapping) or not found.get("arm"):
        return None
    at = found.get("called_at")
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            at = None
    return Called(
        str(found["arm"]), at if isinstance(at, datetime) else None, str(found.get("why") or "")
    )


def _arm(found: Mapping[str, Any], chances: Mapping[str, Any], winner: Any) -> Arm:
    name = str(found.get("name") or "")
    return Arm(
        name=name,
        carts=count(found.get("carts")),
        messages=count(found.get("messages")),
        clicks=count(found.get("clicks")),
        recovered=count(found.get("recovered")),
        conversion=number(found.get("conversion")),
        ci_low=number(found.get("ci_low")),
        ci_high=number(found.get("ci_high")),
        revenue=number(found.get("revenue")),
        spend=number(found.get("spend")),
        discount_cost=number(found.get("discount_cost")),
        revenue_per_cart=number(found.get("revenue_per_cart")),
        probability_best=number(chances.get(name)),
        winner=bool(winner) and name == winner,
    )


@dataclass(frozen=True, slots=True)
class StepFigures:
    """What one step's messages did: the carts they went to and the figures of those."""

    carts: int
    messages: int
    clicks: int
    recovered: int
    conversion: Decimal | None
    revenue: Decimal | None
    spend: Decimal | None


def step_figures(report: Mapping[str, Any]) -> dict[str, StepFigures]:
    """The rows of a report `by=step`, by their key ("cart-sms step 1")."""
    found = report.get("rows")
    if not isinstance(found, Sequence) or isinstance(found, str):
        return {}
    return {
        str(row.get("key")): StepFigures(
            carts=count(row.get("carts")),
            messages=count(row.get("messages")),
            clicks=count(row.get("clicks")),
            recovered=count(row.get("recovered")),
            conversion=number(row.get("conversion")),
            revenue=number(row.get("revenue")),
            spend=number(row.get("spend")),
        )
        for row in found
        if isinstance(row, Mapping)
    }


def step_key(flow_id: str, number: int) -> str:
    """A step's row key in the report (`number` counts from 1, as the Flows page shows)."""
    return f"{flow_id} step {number}"
