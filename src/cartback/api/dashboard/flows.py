"""The Flows page: each configured flow as `cartback preview` shows it (every step, each message
rendered for a sample cart with its encoding, segments and cost, every arm and language), cut
into steps, with its warnings set apart, and each send step's figures from the report."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import replace

from cartback.api.dashboard import figures
from cartback.api.dashboard.measures import StepFigures, step_key
from cartback.api.dashboard.models import FlowView, StepView
from cartback.config import Settings
from cartback.domain.flow import Flow
from cartback.preview import preview


def flow_views(
    settings: Settings, by_step: Mapping[str, StepFigures] | None = None
) -> list[FlowView]:
    """`by_step`: the report's rows by step (see `measures.step_figures`)."""
    return [_flow_view(settings, flow, by_step or {}) for flow in settings.domain_flows()]


def _flow_view(settings: Settings, flow: Flow, by_step: Mapping[str, StepFigures]) -> FlowView:
    printed: list[str] = []
    preview(settings, flow.id, printed.append)
    intro, steps = split_steps("\n".join(printed).splitlines())
    steps = [replace(step, figures=by_step.get(step_key(flow.id, step.number))) for step in steps]
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
    number = title.removeprefix("step ").partition(":")[0]
    return StepView(
        title[0].upper() + title[1:], text, warnings, int(number) if number.isdigit() else 0
    )


def _is_warning(line: str) -> bool:
    return line.strip().startswith("warning: ")
