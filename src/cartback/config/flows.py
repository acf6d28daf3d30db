"""Flow config: steps, conditions on segments, per-segment wording, strategic discounts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from cartback.config.base import Amount, Duration, Slug, _KeyedError, _Model
from cartback.domain.discounts import DiscountKind, DiscountRule
from cartback.domain.events import Channel
from cartback.domain.flow import EndStep, Flow, Guard, SendStep, Step, WaitStep
from cartback.domain.segment_parsing import parse_segments
from cartback.domain.segments import SegmentError, SegmentRef

_SEND_ONLY = ("template", "subject", "html_template", "title", "image_url", "button", "templates")


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
        else:  # refused by `_one_value` already
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


class StepConfig(_Model):
    """One step: `wait: <duration>`, `send: <channel>` or `end: <reason>`; may have an `if:`."""

    model_config = ConfigDict(populate_by_name=True)

    wait: Duration | None = None
    send: Channel | None = None
    end: str | None = None
    if_: Any = Field(default=None, alias="if")  # a segment's name, or a condition
    template: str | None = None
    templates: dict[str, str] | None = None  # segment name -> wording for that segment
    subject: str | None = None  # email
    html_template: str | None = None  # email; default: the built-in basket email
    title: str | None = None  # rcs card
    image_url: str | None = None  # rcs card
    button: str | None = None  # rcs card: the button's text; it opens the basket link
    fallback: Channel | None = None  # rcs: the channel used where rcs does not reach
    discount: DiscountConfig | None = None

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
        return self

    def to_domain(self, segments: SegmentBook, where: str) -> Step:
        guard = segments.guard(self.if_, f"{where}.if")
        if self.wait is not None:
            return WaitStep(duration=self.wait, guard=guard)
        if self.end is not None:
            return EndStep(reason=self.end, guard=guard)
        if self.send is None:  # refused by `_one_kind` already
            raise ValueError(f"{where}: a step needs one of wait, send or end")
        variants = tuple(
            (segments.named(name, f"{where}.templates.{name}"), text)
            for name, text in (self.templates or {}).items()
        )
        return SendStep(
            channel=self.send,
            template=self.template,
            subject=self.subject,
            html_template=self.html_template,
            title=self.title,
            image_url=self.image_url,
            button=self.button,
            fallback=self.fallback,
            guard=guard,
            variants=variants,
            discount=self.discount.to_domain() if self.discount else None,
        )


class FlowConfig(_Model):
    model_config = ConfigDict(populate_by_name=True)

    id: Slug
    store: Slug
    abandon_after: Duration
    priority: int = 0  # higher first; equal priorities keep their order in the file
    if_: Any = Field(default=None, alias="if")
    steps: list[StepConfig] = Field(min_length=1)

    def to_domain(self, segments: SegmentBook, index: int) -> Flow:
        where = f"flows[{index}]"
        steps = tuple(
            step.to_domain(segments, f"{where}.steps[{n}]") for n, step in enumerate(self.steps)
        )
        return Flow(
            id=self.id,
            store_id=self.store,
            abandon_after=self.abandon_after,
            steps=steps,
            priority=self.priority,
            guard=segments.guard(self.if_, f"{where}.if"),
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
