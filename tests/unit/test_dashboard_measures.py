"""The report's measurement as the dashboard reads it: lift over the holdout with its interval,
experiments with their arms and winner, and nothing at all where the report has none."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cartback.api.dashboard import measures

REPORT: dict[str, Any] = {  # the shape of GET /api/report with a holdout and an experiment
    "holdout": {"carts": 100, "recovered": 5, "conversion": "0.05"},
    "treated": {"carts": 900, "recovered": 90, "conversion": 0.1},
    "lift": {
        "absolute": "0.05",
        "ci_low": "0.003",
        "ci_high": "0.09",
        "incremental_orders": "45",
        "incremental_revenue": "4500.00",
        "incremental_roas": "12.5",
    },
    "experiments": [
        {
            "id": "delay-2026-12",
            "arms": [
                {"name": "fast", "carts": 450, "messages": 450, "clicks": 60, "recovered": 50,
                 "conversion": "0.111", "ci_low": "0.085", "ci_high": "0.143",
                 "revenue": "5000.00", "spend": "135.00", "discount_cost": "0",
                 "revenue_per_cart": "11.11"},
                {"name": "slow", "carts": 450, "messages": 440, "clicks": 41, "recovered": 40,
                 "conversion": "0.089", "ci_low": "0.066", "ci_high": "0.119",
                 "revenue": "4000.00", "spend": "132.00", "discount_cost": "0",
                 "revenue_per_cart": "8.89"},
            ],
            "probability_best": {"fast": 0.97, "slow": 0.03},
            "winner": "fast",
        },
        {"id": "wording", "arms": [{"name": "plain"}, {"name": "ten-off"}],
         "probability_best": {"plain": "0.6", "ten-off": "0.4"}, "winner": None},
    ],
}  # fmt: skip


def test_lift_reads_the_groups_and_the_interval_whatever_the_number_type() -> None:
    found = measures.lift(REPORT, holdout_runs=True)
    assert found is not None
    assert found.treated == measures.Group(900, 90, Decimal("0.1"))
    assert found.holdout == measures.Group(100, 5, Decimal("0.05"))
    assert (found.absolute, found.ci_low, found.ci_high) == (
        Decimal("0.05"),
        Decimal("0.003"),
        Decimal("0.09"),
    )
    assert found.incremental_revenue == Decimal("4500.00")
    assert found.settled and found.verdict is None


def test_an_interval_across_zero_is_not_settled_and_keeps_the_reports_verdict() -> None:
    report = {
        **REPORT,
        "lift": {**REPORT["lift"], "ci_low": "-0.01", "verdict": "not enough data yet"},
    }
    found = measures.lift(report, holdout_runs=True)
    assert found is not None and not found.settled
    assert found.verdict == "not enough data yet"


def test_no_holdout_no_lift_and_no_experiments_nothing_shown() -> None:
    plain = {"carts_abandoned": 3, "recovered_revenue": "404.95"}
    assert measures.lift(plain, holdout_runs=True) is None
    assert measures.lift({**plain, "lift": None, "holdout": None}, holdout_runs=True) is None
    nobody_held = {**REPORT, "holdout": {"carts": 0, "recovered": 0, "conversion": 0.0}}
    assert measures.lift(nobody_held, holdout_runs=False) is None, "no holdout: no lift"
    assert measures.lift(nobody_held, holdout_runs=True) is not None, "one is starting"
    assert measures.lift(REPORT, holdout_runs=False) is not None, "held-out carts in the period"
    assert measures.experiments(plain) == []
    assert measures.experiments({"experiments": None}) == []


def test_experiments_give_each_arm_its_chance_of_being_best_and_the_winner() -> None:
    timing, wording = measures.experiments(REPORT)
    fast, slow = timing.arms
    assert timing.id == "delay-2026-12" and timing.winner == "fast"
    assert fast.winner and not slow.winner
    assert fast.probability_best == Decimal("0.97")
    assert (fast.carts, fast.recovered, fast.ci_low) == (450, 50, Decimal("0.085"))
    assert timing.state.startswith("fast wins")
    assert wording.winner is None and not any(arm.winner for arm in wording.arms)
    assert wording.state.startswith("No winner yet")
    told = measures.experiments({"experiments": [{"id": "x", "arms": [], "why": "30 carts."}]})
    assert told[0].state == "No winner yet: 30 carts."  # the report's own words
    assert wording.arms[0].carts == 0 and wording.arms[0].conversion is None
    assert timing.called is None
    auto = {"arm": "fast", "called_at": "2026-12-01T10:00:00+00:00", "why": "97% best"}
    [called] = measures.experiments({"experiments": [{"id": "x", "auto_winner": auto}]})
    assert called.called is not None and called.called.arm == "fast"
    assert called.called.at is not None and called.called.at.day == 1


def test_step_figures_are_found_by_flow_and_step_number() -> None:
    row = {"key": "cart-sms step 1", "carts": 40, "messages": 41, "clicks": 9, "recovered": 4}
    rows = {"rows": [{**row, "conversion": 0.1, "revenue": "400.00", "spend": "12.30"}]}
    found = measures.step_figures(rows)
    step = found[measures.step_key("cart-sms", 1)]
    assert (step.carts, step.messages, step.recovered) == (40, 41, 4)
    assert step.spend == Decimal("12.30") and step.conversion == Decimal("0.1")
    assert measures.step_figures({"rows": None}) == {}
