"""Flow definitions: what happens to an abandoned cart, step by step.

A store may have several flows; the first (by priority) whose condition holds when the cart is
abandoned takes it, and the cart runs in that one flow only. Each step may carry a condition of
its own: a step whose condition does not hold is passed over, and the reason recorded. A run is
stored as a step index and a due time, whatever the steps are.

Experiments live in the flow too: timing arms on the flow (`experiment:`) and wording or
discount arms on a send step (`variants:`), plus a `holdout:` share that gets no message. A cart's
`Assignment` (see `Flow.assign`) picks its arms; `Flow.for_cart` gives the flow as that cart
runs it, so the engine's steps need not know about experiments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from cartback.domain.discounts import DiscountRule
from cartback.domain.events import Channel
from cartback.domain.experiments import Assignment, Experiment, Holdout
from cartback.domain.segments import Condition, SegmentFacts
from cartback.domain.templates import choose_language


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
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Translation:
    """A step's words in one language (`template: {da: …}`, `subject: {da: …}`)."""

    language: str
    template: str | None = None
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    """One arm of a send step's A/B test: its own words and discount."""

    name: str
    template: str | None = None  # None: the step's
    subject: str | None = None
    translations: tuple[Translation, ...] = ()
    discount: DiscountRule | None = None  # a variant without one gives none


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
    wordings: tuple[tuple[Guard, str], ...] = ()
    discount: DiscountRule | None = None
    name: str | None = None
    # By language; `template` and `subject` above are the first language's.
    translations: tuple[Translation, ...] = ()
    # An A/B test of wording and discount; `experiment` holds its id, arms and weights.
    variants: tuple[Variant, ...] = ()
    experiment: Experiment | None = None
    arm: tuple[str, str] | None = None  # (experiment id, variant) once `for_variant` chose

    def wording(self, facts: SegmentFacts | None) -> tuple[str | None, str | None]:
        """The template to use and, when a segment chose it, why."""
        if facts is not None:
            for guard, template in self.wordings:
                if guard.holds(facts):
                    return template, guard.explain(facts)
        return self.template, None

    def for_variant(self, name: str) -> SendStep:
        """The step as a cart in variant `name` gets it (no variants left to choose)."""
        variant = next((v for v in self.variants if v.name == name), None)
        if variant is None:
            raise ValueError(f"step has no variant {name!r}")
        return replace(
            self,
            template=variant.template if variant.template is not None else self.template,
            subject=variant.subject if variant.subject is not None else self.subject,
            translations=variant.translations or self.translations,
            discount=variant.discount,
            variants=(),
            experiment=None,
            arm=(self.experiment.id, name) if self.experiment is not None else None,
        )

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(t.language for t in self.translations)

    def in_language(
        self, locale: str | None, store_locale: str | None
    ) -> tuple[SendStep, str | None]:
        """The step in the buyer's language (see `templates.choose_language`), and which one;
        a step written in one language only comes back as it is, with None."""
        language = choose_language(self.languages, locale, store_locale)
        chosen = next((t for t in self.translations if t.language == language), None)
        if chosen is None:
            return self, None
        step = replace(
            self,
            template=chosen.template if chosen.template is not None else self.template,
            subject=chosen.subject if chosen.subject is not None else self.subject,
            translations=(),
        )
        return step, language


@dataclass(frozen=True, slots=True)
class EndStep:
    """Ends the flow here (typically under a condition), with a reason for the timeline."""

    reason: str
    guard: Guard | None = None
    name: str | None = None


Step = WaitStep | SendStep | EndStep


@dataclass(frozen=True, slots=True)
class Timing:
    """What a timing arm changes: when the cart counts as abandoned, and the waits."""

    arm: str
    abandon_after: timedelta | None = None
    waits: tuple[tuple[int, timedelta], ...] = ()  # (step index, duration)


@dataclass(frozen=True, slots=True)
class Flow:
    id: str
    store_id: str
    abandon_after: timedelta
    steps: tuple[Step, ...]
    priority: int = 0
    guard: Guard | None = None
    experiment: Experiment | None = None  # timing arms
    timings: tuple[Timing, ...] = ()  # one per arm of `experiment`
    holdout: Holdout | None = None

    def step(self, index: int) -> Step | None:
        return self.steps[index] if 0 <= index < len(self.steps) else None

    @property
    def experiments(self) -> tuple[Experiment, ...]:
        """The flow's timing experiment and each send step's, in flow order."""
        found = [self.experiment] if self.experiment is not None else []
        found += [s.experiment for s in self.steps if isinstance(s, SendStep) and s.experiment]
        return tuple(found)

    @property
    def shortest_abandon_after(self) -> timedelta:
        """The soonest any arm may count a cart as abandoned."""
        arms = [t.abandon_after for t in self.timings if t.abandon_after is not None]
        return min([self.abandon_after, *arms])

    def assign(self, cart_key: str, winners: Mapping[str, str] | None = None) -> Assignment:
        """Held out or not, and an arm per experiment; `winners` (experiment id → arm) sends
        new carts to a winner where the experiment has `auto_winner`."""
        winners = winners or {}
        held_out = self.holdout is not None and self.holdout.holds_out(cart_key)
        arms = tuple((e.id, e.assign(cart_key, winners.get(e.id))) for e in self.experiments)
        return Assignment(held_out, arms)

    def for_cart(self, cart_key: str, assignment: Assignment) -> Flow:
        """The flow as this cart runs it: its timing arm applied, each send step in its
        variant. An experiment missing from the assignment (added later), or an arm since
        removed from the config, is assigned now by the same hash."""
        flow = self
        if self.experiment is not None:
            arm = _arm(self.experiment, cart_key, assignment)
            timing = next((t for t in self.timings if t.arm == arm), None)
            flow = self._timed(timing) if timing is not None else self
        steps = tuple(
            s.for_variant(_arm(s.experiment, cart_key, assignment))
            if isinstance(s, SendStep) and s.experiment is not None
            else s
            for s in flow.steps
        )
        return replace(flow, steps=steps, experiment=None, timings=())

    def _timed(self, timing: Timing) -> Flow:
        waits = dict(timing.waits)
        steps = tuple(
            replace(s, duration=waits[i]) if isinstance(s, WaitStep) and i in waits else s
            for i, s in enumerate(self.steps)
        )
        return replace(self, abandon_after=timing.abandon_after or self.abandon_after, steps=steps)


def _arm(experiment: Experiment, cart_key: str, assignment: Assignment) -> str:
    recorded = assignment.arm(experiment.id)
    return recorded if recorded in experiment.names else experiment.assign(cart_key)


def choose_flow(flows: list[Flow], facts: Callable[[], SegmentFacts]) -> tuple[Flow | None, str]:
    """The first flow, by priority then order, whose condition holds; and why. `facts` is
    asked once, when a condition is first evaluated: a store whose first flow takes every cart
    reads nothing of the person's history."""
    ranked = sorted(enumerate(flows), key=lambda pair: (-pair[1].priority, pair[0]))
    passed: list[str] = []
    known: SegmentFacts | None = None
    for _, flow in ranked:
        if flow.guard is None:
            return flow, f"flow {flow.id} takes every cart" + _after(passed)
        if known is None:
            known = facts()
        if flow.guard.holds(known):
            return flow, f"flow {flow.id}: {flow.guard.explain(known)}" + _after(passed)
        passed.append(f"flow {flow.id}: {flow.guard.explain(known)}")
    return None, "; ".join(passed) or "the store has no flows"


def _after(passed: list[str]) -> str:
    return f" (passed over: {'; '.join(passed)})" if passed else ""
