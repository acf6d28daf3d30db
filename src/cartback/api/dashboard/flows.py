"""The Flows page: each configured flow as `cartback preview` shows it (every step, each message
rendered for a sample cart with its encoding, segments and cost, every arm and language), cut
into steps, with its warnings set apart; beside it, its carts' report: each send step's figures,
the lift over its holdout and its experiments' arms."""

from __future__ import annotations

import textwrap
from dataclasses import replace

from cartback.api import views
from cartback.api.dashboard import figures, measures
from cartback.api.dashboard.models import FlowView, StepView
from cartback.domain.breakdown import By
from cartback.domain.flow import Flow
from cartback.preview import preview
from cartback.runtime import Runtime


def flow_views(rt: Runtime, store_id: str | None = None) -> list[FlowView]:
    """Every flow (of `store_id`, if given), each with its carts' report over all time."""
    flows = rt.settings.domain_flows()
    return [_flow_view(rt, flow) for flow in flows if store_id in (None, flow.store_id)]


def _flow_view(rt: Runtime, flow: Flow) -> FlowView:
    printed: list[str] = []
    preview(rt.settings, flow.id, printed.append)
    intro, steps = split_steps("\n".join(printed).splitlines())
    report = views.report_answer(rt, flow.store_id, None, flow.id, By.STEP).model_dump()
    by_step = measures.step_figures(report)
    steps = [
        replace(step, figures=by_step.get(measures.step_key(flow.id, step.number)))
        for step in steps
    ]
    store = rt.settings.store(flow.store_id)
    return FlowView(
        id=flow.id,
        store_id=flow.store_id,
        store_name=store.name if store is not None else flow.store_id,
        abandon_after=figures.duration_words(flow.abandon_after),
        intro=intro[1:],  # the first line names the flow and its timing, shown above
        steps=steps,
        currency=report.get("currency"),
        lift=measures.lift(report, holdout_runs=flow.holdout is not None),
        experiments=measures.experiments(report),
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
