"""Flow definitions: what happens to an abandoned cart, step by step.

A flow belongs to one store. The cart enters it when it is abandoned; then its steps run in order.
Each step either waits or sends on a channel. The model is open to more step kinds
(conditions, splits) without changing how a run is stored: a run is a step index and a due time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cartback.domain.events import Channel


@dataclass(frozen=True, slots=True)
class WaitStep:
    duration: timedelta


@dataclass(frozen=True, slots=True)
class SendStep:
    channel: Channel
    template: str | None = None  # None: the channel's built-in default template
    subject: str | None = None  # email
    html_template: str | None = None  # email
    title: str | None = None  # rcs card
    image_url: str | None = None  # rcs card
    button: str | None = None  # rcs card button text; the button opens the basket link
    fallback: Channel | None = None  # rcs: sms where rcs does not reach


Step = WaitStep | SendStep


@dataclass(frozen=True, slots=True)
class Flow:
    id: str
    store_id: str
    abandon_after: timedelta
    steps: tuple[Step, ...]

    def step(self, index: int) -> Step | None:
        return self.steps[index] if 0 <= index < len(self.steps) else None
