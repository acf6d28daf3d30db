"""The Flows page: each configured flow, its steps, and each message rendered for a sample cart
by the same code as `cartback preview`."""

from __future__ import annotations

from dataclasses import replace

from cartback.api.dashboard import figures
from cartback.api.dashboard.models import FlowView, StepView
from cartback.config import Settings, StoreConfig
from cartback.domain.flow import EndStep, Flow, SendStep, WaitStep
from cartback.preview import SampleCart, StepPreview, render_step, sample_cart


def flow_views(settings: Settings) -> list[FlowView]:
    return [_flow_view(settings, flow) for flow in settings.domain_flows()]


def _flow_view(settings: Settings, flow: Flow) -> FlowView:
    store = settings.store(flow.store_id)
    if store is None:  # the config validates that a flow's store exists
        raise LookupError(f"flow {flow.id!r} names store {flow.store_id!r}, not configured")
    cart = sample_cart(store)
    steps: list[StepView] = []
    for number, step in enumerate(flow.steps, start=1):
        condition = step.guard.label if step.guard is not None else None
        if isinstance(step, WaitStep):
            wait = f"Wait {figures.duration_words(step.duration)}"
            steps.append(StepView(number, "wait", wait, condition))
        elif isinstance(step, EndStep):
            steps.append(StepView(number, "end", f"End the flow: {step.reason}", condition))
        else:
            steps.append(_send_view(settings, store, number, step, condition, cart))
    return FlowView(
        id=flow.id,
        store_id=store.id,
        store_name=store.name,
        abandon_after=figures.duration_words(flow.abandon_after),
        priority=flow.priority,
        condition=flow.guard.label if flow.guard is not None else None,
        steps=steps,
        sample=cart,
    )


def _send_view(
    settings: Settings,
    store: StoreConfig,
    number: int,
    step: SendStep,
    condition: str | None,
    cart: SampleCart,
) -> StepView:
    preview = render_step(settings, store, step, cart)
    variants: list[tuple[str, StepPreview]] = []
    for guard, template in step.variants:
        variant = replace(step, template=template, variants=())
        variants.append((guard.label, render_step(settings, store, variant, cart)))
    discount = None
    if step.discount is not None:
        discount = f"{step.discount.kind} {step.discount.value}, when its rule holds"
    summary = f"Send {figures.channel_label(step.channel)}"
    if preview.route is not None and preview.route != step.channel:
        summary += f" (as {figures.channel_label(preview.route)})"
    return StepView(number, "send", summary, condition, discount, preview, variants)
