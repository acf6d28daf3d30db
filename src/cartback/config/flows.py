"""Flow config: steps, conditions on segments, per-segment wording, strategic discounts, and
the experiments (see `config.experiments`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from cartback.config.base import Amount, Duration, Slug, _KeyedError, _Model
from cartback.config.experiments import (
    ArmConfig,
    FlowExperimentConfig,
    Percentage,
    StepExperimentConfig,
    Texts,
    check_variants,
    holdout_to_domain,
    texts_to_domain,
    under,
)
from cartback.config.template_check import check_syntax, text_warnings
from cartback.domain.best_arm import Goal
from cartback.domain.discounts import DiscountKind, DiscountRule
from cartback.domain.events import Channel
from cartback.domain.experiments import Experiment
from cartback.domain.flow import (
    EndStep,
    Flow,
    Guard,
    SendStep,
    Step,
    Timing,
    Variant,
    WaitStep,
)
from cartback.domain.segment_parsing import parse_segments
from cartback.domain.segments import SegmentError, SegmentRef

_SEND_ONLY = (
    "template",
    "subject",
    "html_template",
    "title",
    "image_url",
    "button",
    "templates",
    "variants",
    "experiment",
)


class DiscountConfig(_Model):
    """A discount that applies only when its rule holds (see the README)."""

    percentage: Amount | None = None
    amount: Amount | None = None
    min_basket: Amount | None = None
    repeat_abandonment: bool = False
    repeat_within: Duration = timedelta(days=30)
    when: Literal["any", "all"] = "any"
    exclude_tags: list[str] = Field(default_factory=list)
    expires_after: Duration = timedelta(hours=48)

    @model_validator(mode="after")
    def _one_value(self) -> Self:
        if (self.percentage is None) == (self.amount is None):
            raise ValueError("a discount needs exactly one of `percentage` or `amount`")
        if self.percentage is not None and not Decimal(0) < self.percentage <= 100:
            raise _KeyedError("must be more than 0 and at most 100", "percentage")
        return self

    def to_domain(self) -> DiscountRule:
        if self.percentage is not None:
            kind, value = DiscountKind.PERCENTAGE, self.percentage
        elif self.amount is not None:
            kind, value = DiscountKind.FIXED, self.amount
        else:  # the validator above rules this out
            raise ValueError("a discount needs exactly one of `percentage` or `amount`")
        return DiscountRule(
            kind=kind,
            value=value,
            expires_after=self.expires_after,
            min_basket=self.min_basket,
            repeat_abandonment=self.repeat_abandonment,
            repeat_window=self.repeat_within,
            exclude_tags=frozenset(tag.strip().lower() for tag in self.exclude_tags),
            when=self.when,
        )


class VariantConfig(ArmConfig):
    """One arm of a send step's A/B test: `{name, weight, template, subject?, discount?}`."""

    template: Texts | None = None  # default: the step's
    subject: Texts | None = None
    discount: DiscountConfig | None = None  # default: none

    def to_domain(self) -> Variant:
        template, subject, translations = texts_to_domain(self.template, self.subject)
        discount = self.discount.to_domain() if self.discount else None
        return Variant(self.name, template, subject, translations, discount)


class StepConfig(_Model):
    """One step: `wait: <duration>`, `send: <channel>` or `end: <reason>`; may have an `if:`."""

    model_config = ConfigDict(populate_by_name=True)

    wait: Duration | None = None
    send: Channel | None = None
    end: str | None = None
    if_: Any = Field(default=None, alias="if")  # a segment's name, or a condition
    name: Slug | None = None  # for `waits:` in timing arms and for reading
    template: Texts | None = None  # one text, or one per language
    templates: dict[str, str] | None = None  # segment name -> wording for that segment
    subject: Texts | None = None  # email
    html_template: str | None = None  # email; default: the built-in basket email
    title: str | None = None  # rcs card
    image_url: str | None = None  # rcs card
    button: str | None = None  # rcs card: the button's text; it opens the basket link
    fallback: Channel | None = None  # rcs: the channel used where rcs does not reach
    discount: DiscountConfig | None = None
    variants: list[VariantConfig] | None = None  # an A/B test of wording and discount
    experiment: StepExperimentConfig | None = None  # the A/B test's id and settings

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        kinds = [k for k in ("wait", "send", "end") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a step needs exactly one of `wait: <duration>`, `send: <channel>` "
                "or `end: <reason>`"
            )
        for key in (*_SEND_ONLY, "discount"):
            if getattr(self, key) is not None and self.send is None:
                raise _KeyedError(f"only a `send` step has a {key}", key)
        if self.fallback is not None and self.send != Channel.RCS:
            raise _KeyedError("only an rcs step has a fallback", "fallback")
        if self.fallback not in (None, Channel.SMS):
            raise _KeyedError("rcs falls back to sms only", "fallback")
        for at, text in self._texts():
            check_syntax(text, *at)
        return self._experiment_rules()

    def _texts(self) -> list[tuple[tuple[str | int, ...], Texts | None]]:
        """Every text of the step, at its key: its own, per segment, per variant."""
        texts: list[tuple[tuple[str | int, ...], Texts | None]] = [
            (("template",), self.template),
            (("subject",), self.subject),
            (("html_template",), self.html_template),
        ]
        texts += [(("templates", name), text) for name, text in (self.templates or {}).items()]
        for n, variant in enumerate(self.variants or ()):
            texts += [(("variants", n, "template"), variant.template)]
            texts += [(("variants", n, "subject"), variant.subject)]
        return texts

    def text_warnings(self, where: str) -> list[str]:
        """What is wrong with the step's texts that compile (see `config.template_check`)."""
        if self.send is None:
            return []
        found = []
        for key, text in self._texts():
            message_text = key[0] == "templates" or key[-1] == "template"  # not a subject
            label = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in key)
            found += text_warnings(text, self.send if message_text else Channel.EMAIL, label)
        return found

    def _experiment_rules(self) -> Self:
        if self.variants is None:
            if self.experiment is not None:
                raise _KeyedError("only a step with `variants` is an experiment", "experiment")
            return self
        check_variants(self.variants)
        if self.templates is not None:
            raise _KeyedError(
                "a step has wording per segment (`templates`) or an A/B test (`variants`), "
                "not both",
                "variants",
            )
        if self.discount is not None:
            raise _KeyedError(
                "with `variants`, put the discount on the variants that give one", "discount"
            )
        return self

    def to_domain(self, segments: SegmentBook, where: str, experiment_id: str) -> Step:
        """`experiment_id`: the A/B test's id unless `experiment: {id}` names one."""
        guard = segments.guard(self.if_, f"{where}.if")
        if self.wait is not None:
            return WaitStep(duration=self.wait, guard=guard, name=self.name)
        if self.send is None:
            return EndStep(reason=self.end or "", guard=guard, name=self.name)
        wordings = tuple(
            (segments.named(name, f"{where}.templates.{name}"), text)
            for name, text in (self.templates or {}).items()
        )
        template, subject, translations = texts_to_domain(self.template, self.subject)
        variants = tuple(v.to_domain() for v in self.variants or ())
        return SendStep(
            channel=self.send,
            template=template,
            subject=subject,
            html_template=self.html_template,
            title=self.title,
            image_url=self.image_url,
            button=self.button,
            fallback=self.fallback,
            guard=guard,
            wordings=wordings,
            discount=self.discount.to_domain() if self.discount else None,
            name=self.name,
            translations=translations,
            variants=variants,
            experiment=self._ab_test(variants, experiment_id),
        )

    def _ab_test(self, variants: tuple[Variant, ...], experiment_id: str) -> Experiment | None:
        """Variants with a discount are compared by revenue net of it, others by conversion."""
        if not self.variants:
            return None
        goal = Goal.NET_REVENUE if any(v.discount for v in variants) else Goal.CONVERSION
        settings = self.experiment or StepExperimentConfig()
        return settings.to_domain(experiment_id, tuple(v.arm() for v in self.variants), goal)


class FlowConfig(_Model):
    model_config = ConfigDict(populate_by_name=True)

    id: Slug
    store: Slug
    abandon_after: Duration
    priority: int = 0  # higher first; equal priorities keep their order in the file
    if_: Any = Field(default=None, alias="if")
    steps: list[StepConfig] = Field(min_length=1)
    experiment: FlowExperimentConfig | None = None  # timing arms
    holdout: Percentage | None = None  # `10%`: that share of carts gets no message

    @model_validator(mode="after")
    def _step_names(self) -> Self:
        seen: set[str] = set()
        for n, name in enumerate(step.name for step in self.steps):
            if name in seen:
                raise _KeyedError(f"duplicate step name {name!r}", "steps", n, "name")
            seen.update([name] if name else [])
        return self

    def to_domain(self, segments: SegmentBook, index: int) -> Flow:
        where = f"flows[{index}]"
        steps = tuple(
            step.to_domain(segments, f"{where}.steps[{n}]", f"{self.id}.step{n + 1}")
            for n, step in enumerate(self.steps)
        )
        experiment: Experiment | None = None
        timings: tuple[Timing, ...] = ()
        if self.experiment is not None:
            names = {step.name: n for n, step in enumerate(self.steps) if step.name}
            try:
                experiment, timings = self.experiment.to_domain(steps, names)
            except _KeyedError as error:
                raise under(error, "flows", index) from None
        return Flow(
            id=self.id,
            store_id=self.store,
            abandon_after=self.abandon_after,
            steps=steps,
            priority=self.priority,
            guard=segments.guard(self.if_, f"{where}.if"),
            experiment=experiment,
            timings=timings,
            holdout=holdout_to_domain(self.id, self.holdout),
        )


class SegmentBook:
    """The config's named segments, and conditions written in place that may refer to them."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = dict(raw)
        self.parsed = parse_segments(self.raw) if self.raw else {}

    def named(self, name: str, where: str) -> Guard:
        if name not in self.parsed:
            known = ", ".join(sorted(self.parsed)) or "none are defined"
            raise SegmentError(f"{where}: unknown segment {name!r} (segments: {known})")
        return Guard(self.parsed[name], f"segment {name}")

    def guard(self, value: Any, where: str) -> Guard | None:
        if value is None:
            return None
        if isinstance(value, str):
            return self.named(value, where)
        # An inline condition, resolved together with the named segments it may refer to.
        key = where  # "flows[0].if": not a name anyone gives a segment
        parsed = parse_segments({**self.raw, key: value})
        condition = parsed[key]
        if isinstance(condition, SegmentRef) and condition.target is not None:
            return Guard(condition.target, f"segment {condition.name}")
        return Guard(condition, "the condition")


def segment_problem(error: SegmentError) -> _KeyedError:
    """A segment error as a config problem at the key it names (`flows[0].steps[1].if: ...`)."""
    text = str(error)
    path, sep, message = text.partition(": ")
    if not sep:
        return _KeyedError(text)
    if path.startswith("segments.flows["):  # a condition written in place, not a named segment
        path = path.removeprefix("segments.")
    keys: list[str | int] = []
    for part in path.strip().replace("]", "").replace("[", ".").split("."):
        if part:
            keys.append(int(part) if part.isdigit() else part)
    return _KeyedError(message, *keys)
