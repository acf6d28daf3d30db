"""Experiment, holdout, language and opt-out config: the example loads, mistakes name their line."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from cartback.config import ConfigError, Settings, load_config
from cartback.domain.best_arm import Goal
from cartback.domain.experiments import Assignment
from cartback.domain.flow import SendStep, Translation, WaitStep

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

BASE = """\
api_token: t
stores:
  - id: demo
    platform: generic
    insecure: true
    name: Demo Shop
flows:
  - id: cart-sms
    store: demo
    abandon_after: 30m
"""


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "cartback.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, {})


def problem(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def test_the_experiments_example_loads() -> None:
    settings = load_config(EXAMPLES / "experiments.yaml", {})
    [flow] = settings.domain_flows()
    assert flow.holdout is not None and flow.holdout.share == Decimal("0.10")
    assert flow.experiment is not None and flow.experiment.id == "delay-2026-12"
    assert flow.experiment.min_carts_per_arm == 200
    assert [e.id for e in flow.experiments] == ["delay-2026-12", "cart-recovery.step1"]
    slow = flow.for_cart("c", Assignment(False, (("delay-2026-12", "slow"),)))
    assert slow.abandon_after == timedelta(hours=2)
    assert slow.steps[1] == WaitStep(timedelta(hours=12), name="follow-up")
    sms = flow.steps[0]
    assert isinstance(sms, SendStep) and sms.experiment is not None
    assert sms.experiment.goal == Goal.NET_REVENUE  # an arm gives a discount
    assert [v.name for v in sms.variants] == ["plain", "ten-off"]
    assert sms.variants[1].discount is not None
    assert [t.language for t in sms.variants[0].translations] == ["da", "en"]
    store = settings.stores[0]
    assert (store.locale, store.support_email) == ("da", "hello@nordic-knitwear.example")
    assert settings.policy.opt_out_texts() == {
        "US": "Reply STOP to opt out.",
        "CA": "Reply STOP to opt out.",
        "DK": "Afmeld: svar STOP",
    }


def test_texts_by_language_and_step_experiment_settings(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        BASE
        + """\
    steps:
      - send: email
        template: {DA: "Hej {{ link }}", en_GB: "Hi {{ link }}"}
        subject: {en-gb: "Your basket", de: "Ihr Warenkorb"}
      - send: sms
        experiment: {id: wording-1, min_carts_per_arm: 50, auto_winner: true}
        variants:
          - {name: short, weight: 3, template: "{{ link }}"}
          - {name: long, template: "Your basket is saved: {{ link }}"}
""",
    )
    email, sms = settings.domain_flows()[0].steps
    assert isinstance(email, SendStep) and isinstance(sms, SendStep)
    assert (email.template, email.subject) == ("Hej {{ link }}", "Your basket")
    assert email.translations == (
        Translation("da", "Hej {{ link }}", None),
        Translation("en-gb", "Hi {{ link }}", "Your basket"),
        Translation("de", None, "Ihr Warenkorb"),
    )
    assert sms.experiment is not None
    assert (sms.experiment.id, sms.experiment.min_carts_per_arm) == ("wording-1", 50)
    assert sms.experiment.auto_winner and sms.experiment.goal == Goal.CONVERSION
    assert [(a.name, a.weight) for a in sms.experiment.arms] == [("short", 3.0), ("long", 1.0)]


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("    holdout: 10\n", "11: flows[0].holdout: 10 is not a percentage (write e.g. 10%)"),
        ("    holdout: 60%\n", "11: flows[0].holdout: '60%' is outside 0% to 50%"),
        (
            "    experiment: {id: t, arms: [{name: a}]}\n",
            "11: flows[0].experiment.arms: List should have at least 2 items",
        ),
        (
            "    experiment:\n      id: t\n      arms:\n        - {name: a}\n"
            "        - {name: a, abandon_after: 1h}\n",
            "15: flows[0].experiment.arms[1].name: duplicate arm name 'a'",
        ),
        (
            "    experiment:\n      id: t\n      arms:\n        - {name: a, weight: 0}\n"
            "        - {name: b, weight: 0}\n",
            "flows[0].experiment.arms[0].weight: at least one arm needs a weight above 0",
        ),
        (
            "    experiment:\n      id: t\n      arms:\n        - {name: a, waits: {1: 2h}}\n"
            "        - {name: b}\n    steps:\n      - send: sms\n",
            "14: flows[0].experiment.arms[0].waits.1: step 1 is not a wait step",
        ),
        (
            "    experiment:\n      id: t\n      arms:\n        - {name: a, waits: {later: 2h}}\n"
            "        - {name: b}\n    steps:\n      - send: sms\n",
            "flows[0].experiment.arms[0].waits.later: no step 'later': write a step number "
            "from 1 to 1",
        ),
    ],
)
def test_flow_experiment_mistakes_name_the_line_and_key(
    tmp_path: Path, tail: str, expected: str
) -> None:
    text = BASE + tail
    if "steps:" not in tail:
        text += "    steps:\n      - send: sms\n"
    assert expected in problem(tmp_path, text)


STEP = BASE + "    steps:\n      - send: sms\n"


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (
            "        variants: [{name: a}]\n",
            "13: flows[0].steps[0].variants: an A/B test needs at least two variants",
        ),
        (
            "        variants: [{name: a}, {name: a}]\n",
            "flows[0].steps[0].variants[1].name: duplicate variant name 'a'",
        ),
        (
            "        templates: {vip: hi}\n        variants: [{name: a}, {name: b}]\n",
            "flows[0].steps[0].variants: a step has wording per segment (`templates`) or an "
            "A/B test (`variants`), not both",
        ),
        (
            "        discount: {percentage: 10}\n        variants: [{name: a}, {name: b}]\n",
            "flows[0].steps[0].discount: with `variants`, put the discount on the variants",
        ),
        (
            "        experiment: {id: x}\n",
            "flows[0].steps[0].experiment: only a step with `variants` is an experiment",
        ),
        (
            '        template: {danish: "Hej"}\n',
            "13: flows[0].steps[0].template.danish: 'danish' is not a language",
        ),
        ("        template: {}\n", "flows[0].steps[0].template: write one text, or a text per"),
        (
            "        variants: [{name: a, template: {x1: hi}}, {name: b}]\n",
            "flows[0].steps[0].variants[0].template.x1: 'x1' is not a language",
        ),
    ],
)
def test_send_step_mistakes_name_the_line_and_key(tmp_path: Path, step: str, expected: str) -> None:
    assert expected in problem(tmp_path, STEP + step)


def test_step_names_are_unique_within_a_flow(tmp_path: Path) -> None:
    text = BASE + "    steps:\n      - {name: w, wait: 1h}\n      - {name: w, send: sms}\n"
    assert "13: flows[0].steps[1].name: duplicate step name 'w'" in problem(tmp_path, text)


def test_experiment_ids_are_unique_across_flows(tmp_path: Path) -> None:
    text = (
        BASE
        + "    steps:\n      - send: sms\n        experiment: {id: same}\n"
        + "        variants: [{name: a}, {name: b}]\n"
        + "  - id: other\n    store: demo\n    abandon_after: 1h\n"
        + "    experiment: {id: same, arms: [{name: a}, {name: b}]}\n"
        + "    steps:\n      - send: sms\n"
    )
    assert "flows[1].id: experiment id 'same' is already used by flow cart-sms" in problem(
        tmp_path, text
    )


def test_store_language_and_opt_out_countries_are_checked(tmp_path: Path) -> None:
    text = BASE.replace("    name: Demo Shop\n", "    name: Demo Shop\n    locale: danish\n")
    assert "7: stores[0].locale: 'danish' is not a language" in problem(
        tmp_path, text + "    steps:\n      - send: sms\n"
    )
    text = STEP + "policy:\n  opt_out_text: {Denmark: x}\n"
    assert "policy.opt_out_text.Denmark: 'Denmark' is not a country code" in problem(tmp_path, text)


def test_opt_out_defaults_can_be_turned_off(tmp_path: Path) -> None:
    settings = load(
        tmp_path, STEP + "policy:\n  opt_out_text: {US: null, '*': 'Stop? Reply STOP'}\n"
    )
    assert settings.policy.opt_out_texts() == {
        "CA": "Reply STOP to opt out.",
        "*": "Stop? Reply STOP",
    }
