"""Experiment config: timing arms on a flow, wording and discount variants on a send step, the
holdout share, and texts written per language.

```yaml
flows:
  - id: cart-sms
    holdout: 10%                       # 0-50%: these carts get no message
    experiment:                        # timing arms
      id: delay-2026-12
      arms:
        - {name: fast, weight: 1, abandon_after: 20m}
        - {name: slow, weight: 1, abandon_after: 2h, waits: {3: 12h}}   # step 3 (or its name)
    steps:
      - send: sms
        variants:                      # experiment id: cart-sms.step1 unless `experiment: {id}`
          - {name: plain, template: {da: "Hej …", en: "Hi …"}}
          - {name: ten-off, template: "…", discount: {percentage: 10}}
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Self

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from cartback.config.base import (
    PositiveDuration,
    Slug,
    _exact_decimal,
    _KeyedError,
    _matching,
    _Model,
)
from cartback.domain.best_arm import Goal
from cartback.domain.experiments import Arm, Experiment, Holdout
from cartback.domain.flow import Timing, Translation, WaitStep
from cartback.domain.templates import LANGUAGE_TAG, normalise_language

MAX_HOLDOUT = Decimal(50)


def _percentage(value: object) -> object:
    text = value.strip() if isinstance(value, str) else ""
    try:
        number = Decimal(text.removesuffix("%").strip()) if text.endswith("%") else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise ValueError(f"{value!r} is not a percentage (write e.g. 10%)")
    if not 0 <= number <= MAX_HOLDOUT:
        raise ValueError(f"{value!r} is outside 0% to {MAX_HOLDOUT}%")
    return number / 100


def _language(value: str) -> str:
    language = normalise_language(value)
    if not LANGUAGE_TAG.fullmatch(language):
        raise ValueError(f"{value!r} is not a language (write e.g. en, da, pt-br)")
    return language


def _languages(value: str | dict[str, str]) -> str | dict[str, str]:
    if isinstance(value, str):
        return value
    if not value:
        raise ValueError("write one text, or a text per language such as {en: …, da: …}")
    texts: dict[str, str] = {}
    for key, text in value.items():
        try:
            language = _language(key)
        except ValueError as error:
            raise _KeyedError(str(error), key) from None
        if language in texts:
            raise _KeyedError(f"{key!r} repeats a language written before", key)
        texts[language] = text
    return texts


Language = Annotated[str, AfterValidator(_language)]
Percentage = Annotated[Decimal, BeforeValidator(_percentage)]
Weight = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0)]
ExperimentId = Annotated[
    str, _matching(r"[a-z0-9][a-z0-9._-]*", "an experiment id (use a-z, 0-9, '.', '-', '_')")
]
# One text, or one per language: `template: {da: "Hej …", en: "Hi …"}`.
Texts = Annotated[str | dict[str, str], AfterValidator(_languages)]


def texts_to_domain(
    template: str | dict[str, str] | None, subject: str | dict[str, str] | None
) -> tuple[str | None, str | None, tuple[Translation, ...]]:
    """(template, subject, translations): the first language's words, and all of them."""
    by_template = template if isinstance(template, dict) else {}
    by_subject = subject if isinstance(subject, dict) else {}
    languages = [*by_template, *(lang for lang in by_subject if lang not in by_template)]
    translations = tuple(
        Translation(lang, by_template.get(lang), by_subject.get(lang)) for lang in languages
    )
    return _first(template), _first(subject), translations


def _first(texts: str | dict[str, str] | None) -> str | None:
    if isinstance(texts, dict):
        return next(iter(texts.values()))
    return texts


def under(error: _KeyedError, *prefix: str | int) -> _KeyedError:
    """The same complaint, about a key further down: `under(e, "arms", 1)`."""
    return _KeyedError(str(error), *prefix, *error.at)


def _arms_check(arms: Sequence[ArmConfig], what: str) -> None:
    seen: dict[str, int] = {}
    for index, arm in enumerate(arms):
        if arm.name in seen:
            raise _KeyedError(f"duplicate {what} name {arm.name!r}", index, "name")
        seen[arm.name] = index
    if sum(arm.weight for arm in arms) <= 0:
        raise _KeyedError(f"at least one {what} needs a weight above 0", 0, "weight")


class ArmConfig(_Model):
    name: Slug
    weight: Weight = Decimal(1)

    def arm(self) -> Arm:
        return Arm(self.name, float(self.weight))


class TimingArmConfig(ArmConfig):
    abandon_after: PositiveDuration | None = None
    # Step number (1 is the first, as `cartback preview` counts) or step name → its wait.
    waits: dict[str, PositiveDuration] = Field(default_factory=dict)

    def to_domain(self, steps: Sequence[object], names: Mapping[str, int]) -> Timing:
        waits = []
        for key, duration in self.waits.items():
            index = _step_index(key, len(steps), names)
            if not isinstance(steps[index], WaitStep):
                raise _KeyedError(f"step {index + 1} is not a wait step", "waits", key)
            waits.append((index, duration))
        return Timing(self.name, self.abandon_after, tuple(waits))


def _step_index(key: str, count: int, names: Mapping[str, int]) -> int:
    if key in names:
        return names[key]
    if key.isdigit() and 1 <= int(key) <= count:
        return int(key) - 1
    known = f" or a step name ({', '.join(names)})" if names else ""
    raise _KeyedError(
        f"no step {key!r}: write a step number from 1 to {count}{known}", "waits", key
    )


class FlowExperimentConfig(_Model):
    """Timing arms: each may change `abandon_after` and the flow's waits."""

    id: ExperimentId
    arms: list[TimingArmConfig] = Field(min_length=2)
    min_carts_per_arm: int = Field(default=100, ge=1)
    auto_winner: bool = False

    @model_validator(mode="after")
    def _arms(self) -> Self:
        try:
            _arms_check(self.arms, "arm")
        except _KeyedError as error:
            raise under(error, "arms") from None
        return self

    def to_domain(
        self, steps: Sequence[object], names: Mapping[str, int]
    ) -> tuple[Experiment, tuple[Timing, ...]]:
        timings = []
        for index, arm in enumerate(self.arms):
            try:
                timings.append(arm.to_domain(steps, names))
            except _KeyedError as error:
                raise under(error, "experiment", "arms", index) from None
        experiment = Experiment(
            self.id,
            tuple(arm.arm() for arm in self.arms),
            self.min_carts_per_arm,
            self.auto_winner,
        )
        return experiment, tuple(timings)


class StepExperimentConfig(_Model):
    """Settings of a send step's A/B test; the arms are its `variants`."""

    id: ExperimentId | None = None
    min_carts_per_arm: int = Field(default=100, ge=1)
    auto_winner: bool = False

    def to_domain(self, default_id: str, arms: tuple[Arm, ...], goal: Goal) -> Experiment:
        return Experiment(
            self.id or default_id, arms, self.min_carts_per_arm, self.auto_winner, goal
        )


def check_variants(variants: Sequence[ArmConfig]) -> None:
    if len(variants) < 2:
        raise _KeyedError("an A/B test needs at least two variants", "variants")
    try:
        _arms_check(variants, "variant")
    except _KeyedError as error:
        raise under(error, "variants") from None


def holdout_to_domain(flow_id: str, share: Decimal | None) -> Holdout | None:
    return Holdout(flow_id, share) if share else None
