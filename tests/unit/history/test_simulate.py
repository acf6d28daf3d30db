"""The simulation: 10,000 carts without a violation, and a broken policy caught by the checker."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from cartback.cli import main
from cartback.config import Settings, load_config
from cartback.domain import policy
from cartback.history.simulate import simulate

WORLD = Path(__file__).resolve().parents[3] / "src" / "cartback" / "history" / "simulation.yaml"


@pytest.fixture(scope="module")
def world() -> Settings:
    return load_config(WORLD, environ={})


def test_ten_thousand_carts_break_no_rule(world: Settings) -> None:
    result = simulate(world, 10_000, seed=12)

    assert result.violations.total == 0, result.violations.examples
    kinds = {h.kind for h in result.world.happenings}
    assert kinds == {"webhook", "stop", "touch"}
    assert {s.channel for s in result.sent} == {"sms", "email"}
    assert result.gateway["retry"] > 0 and result.gateway["failed"] > 0
    zones = {s.zone for s in result.sent if s.channel == "sms"}
    assert len(zones) >= 8  # people across the globe were texted


def _without(name: str) -> policy.Check:
    return functools.partial(
        policy.decide, checks=tuple(c for c in policy.CHECKS if c.__name__ != name)
    )


@pytest.mark.parametrize(
    ("left_out", "rule"),
    [
        ("_quiet", "sending_window"),
        ("_consent", "no_consent"),
        ("_cooldown", "cooldown"),
        ("_frequency", "second_sms"),
    ],
)
def test_a_policy_without_a_check_is_caught(world: Settings, left_out: str, rule: str) -> None:
    result = simulate(world, 1_000, seed=5, policy=_without(left_out))
    assert result.violations.counts[rule] > 0
    assert result.violations.examples


def test_the_command_prints_the_counts_and_fails_on_a_violation(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["simulate", "--carts", "200", "--seed", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["carts"] == 200 and set(summary["violations"].values()) == {0}

    # the engine's own policy, its quiet-hours check left out
    without_quiet = tuple(c for c in policy.CHECKS if c.__name__ != "_quiet")
    monkeypatch.setattr(policy.decide, "__defaults__", (without_quiet,))
    assert main(["simulate", "--carts", "200", "--seed", "3"]) == 1
    out = capsys.readouterr().out
    assert "violations:" in out and "e.g. sending_window:" in out
