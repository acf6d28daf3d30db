"""The Flows page: each configured flow as `cartback preview` shows it (every step, each message
rendered for a sample cart with its encoding, segments and cost, every arm and language), cut
into steps, with its warnings set apart."""

from __future__ import annotations

import textwrap
from dataclasses import replace

from cartback.api import views
from cartback.api.dashboard import figures
from cartback.api.dashboard.models import FlowView, StepView
from cartback.config import Settings
from cartback.domain.flow import Flow
from cartback.preview import preview
from cartback.runtime import Runtime


def flow_views(settings: Settings) -> list[FlowView]:
    return [_flow_view(settings, flow) for flow in settings.domain_flows()]


def with_results(rt: Runtime, found: list[FlowView]) -> list[FlowView]:
    """Each flow with a holdout or an experiment gets its carts' report beside it."""
    flows = {flow.id: flow for flow in rt.settings.domain_flows()}
    shown = []
    for view in found:
        flow = flows[view.id]
        if flow.holdout is not None or flow.experiments:
            results = views.report_answer(rt, flow.store_id, None, flow.id)
            view = replace(view, results=results, held_out=flow.holdout is not None)
        shown.append(view)
    return shown


def _flow_view(settings: Settings, flow: Flow) -> FlowView:
    printed: list[str] = []
    preview(settings, flow.id, printed.append)
    intro, steps = split_steps("\n".join(printed).splitlines())
    store = settings.store(flow.store_id)
    return FlowView(
        id=flow.id,
        store_id=flow.store_id,
        store_name=store.name if store is not None else flow.store_id,
        abandon_after=figures.duration_words(flow.abandon_after),
        intro=intro[1:],  # the first line names the flow and its timing, shown above
        steps=steps,
    )


def split_steps(lines: list[str]) -> tuple[list[str], list[StepView]]:
    """The preview's lines before the first step, and one view per `step N: ...` line with the
    lines under it; `warning:` lines are lifted out of the text."""
    intro: list[str] = []
    steps: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("step "):
            steps.append((line, []))
        elif steps:
            steps[-1][1].append(line)
        elif line.strip():
            intro.append(line)
    return intro, [_step(title, body) for title, body in steps]


def _step(title: str, body: list[str]) -> StepView:
    warnings = [line.strip().removeprefix("warning: ") for line in body if _is_warning(line)]
    kept = [line for line in body if not _is_warning(line)]
    text = textwrap.dedent("\n".join(kept)).strip("\n")
    return StepView(title[0].upper() + title[1:], text, warnings)


def _is_warning(line: str) -> bool:
    return line.strip().startswith("warning: ")
