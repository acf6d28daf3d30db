"""Flow config: steps, conditions on segments, per-segment templates, discounts."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from cartback._config_base import Duration, Slug, _KeyedError, _Model
from cartback.domain.events import Channel
from cartback.domain.flow import Flow, SendStep, Step, WaitStep


class StepConfig(_Model):
    """One flow step: either `wait: <duration>` or `send: <channel>` (+ optional template)."""

    wait: Duration | None = None
    send: Channel | None = None
    template: str | None = None
    subject: str | None = None  # email
    html_template: str | None = None  # email; default: the built-in basket email
    title: str | None = None  # rcs card
    image_url: str | None = None  # rcs card
    button: str | None = None  # rcs card: the button's text; it opens the basket link
    fallback: Channel | None = None  # rcs: the channel used where rcs does not reach

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.wait is None) == (self.send is None):
            raise ValueError("a step needs exactly one of `wait: <duration>` or `send: <channel>`")
        for key in ("template", "subject", "html_template", "title", "image_url", "button"):
            if getattr(self, key) is not None and self.send is None:
                raise _KeyedError(f"only a `send` step has a {key}", key)
        if self.fallback is not None and self.send != Channel.RCS:
            raise _KeyedError("only an rcs step has a fallback", "fallback")
        if self.fallback not in (None, Channel.SMS):
            raise _KeyedError("rcs falls back to sms only", "fallback")
        return self

    def to_domain(self) -> Step:
        if self.wait is not None:
            return WaitStep(duration=self.wait)
        assert self.send is not None
        return SendStep(
            channel=self.send,
            template=self.template,
            subject=self.subject,
            html_template=self.html_template,
            title=self.title,
            image_url=self.image_url,
            button=self.button,
            fallback=self.fallback,
        )


class FlowConfig(_Model):
    id: Slug
    store: Slug
    abandon_after: Duration
    steps: list[StepConfig] = Field(min_length=1)

    def to_domain(self) -> Flow:
        steps = tuple(step.to_domain() for step in self.steps)
        return Flow(id=self.id, store_id=self.store, abandon_after=self.abandon_after, steps=steps)
