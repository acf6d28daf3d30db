"""Flow definitions: what happens to an abandoned cart, step by step.

A store may have several flows; the first (by priority) whose condition holds when the cart is
abandoned takes it, and the cart runs in that one flow only. Each step may carry a condition of
its own: a step whose condition does not hold is passed over, and the reason recorded. A run is
stored as a step index and a due time, whatever the steps are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cartback.domain.discounts import DiscountRule
from cartback.domain.events import Channel
from cartback.domain.segments import Condition, SegmentFacts


@dataclass(frozen=True, slots=True)
class Guard:
    """A condition with the name a person knows it by ("segment vip")."""

    condition: Condition
    label: str

    def holds(self, facts: SegmentFacts) -> bool:
        return self.condition.holds(facts)

    def explain(self, facts: SegmentFacts) -> str:
        verdict = "holds" if self.holds(facts) else "does not hold"
        return f"{self.label} {verdict}: {self.condition.explain(facts)}"


@dataclass(frozen=True, slots=True)
class WaitStep:
    duration: timedelta
    guard: Guard | None = None


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
    guard: Guard | None = None
    # Wording per segment: the first whose guard holds replaces `template`.
    variants: tuple[tuple[Guard, str], ...] = ()
    discount: DiscountRule | None = None

    def wording(self, facts: SegmentFacts | None) -> tuple[str | None, str | None]:
        """The template to use and, when a segment chose it, why."""
        if facts is not None:
            for guard, template in self.variants:
                if guard.holds(facts):
                    return template, guard.explain(facts)
        return self.template, None


@dataclass(frozen=True, slots=True)
class EndStep:
    """Ends the flow here (typically under a condition), with a reason for the timeline."""

    reason: str
    guard: Guard | None = None


Step = WaitStep | SendStep | EndStep


@dataclass(frozen=True, slots=True)
class Flow:
    id: str
    store_id: str
    abandon_after: timedelta
    steps: tuple[Step, ...]
    priority: int = 0
    guard: Guard | None = None

    def step(self, index: int) -> Step | None:
        return self.steps[index] if 0 <= index < len(self.steps) else None


def choose_flow(flows: list[Flow], facts: SegmentFacts) -> tuple[Flow | None, str]:
    """The first flow, by priority then order, whose condition holds; and why."""
    ranked = sorted(enumerate(flows), key=lambda pair: (-pair[1].priority, pair[0]))
    passed: list[str] = []
    for _, flow in ranked:
        if flow.guard is None:
            return flow, f"flow {flow.id} takes every cart" + _after(passed)
        if flow.guard.holds(facts):
            return flow, f"flow {flow.id}: {flow.guard.explain(facts)}" + _after(passed)
        passed.append(f"flow {flow.id}: {flow.guard.explain(facts)}")
    return None, "; ".join(passed) or "the store has no flows"


def _after(passed: list[str]) -> str:
    return f" (passed over: {'; '.join(passed)})" if passed else ""
