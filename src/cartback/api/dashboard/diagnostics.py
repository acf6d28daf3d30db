"""The Diagnostics page: where in the checkout a store's carts are left, now against its usual
(the same figures as `GET /api/diagnostics`), the sources they came from, and the alerts
raised when one stage's share rose beyond its baseline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from cartback.api.dashboard import figures
from cartback.api.dashboard.auth import SessionRoute
from cartback.api.dashboard.render import message_page, page, scope
from cartback.api.inputs import Filter
from cartback.domain.checkout import Alert
from cartback.engine.diagnostics import Diagnosis, StageFigures, diagnose
from cartback.runtime import Runtime

router = APIRouter(include_in_schema=False, route_class=SessionRoute)

STAGE_WORDS: Mapping[str, str] = {
    "contact": "Contact details only",
    "shipping_address": "Shipping address given",
    "shipping_method": "Shipping method chosen",
    "payment": "Payment attempted",
    "unknown": "Stage not told by the shop",
}
SOURCE_WORDS: Mapping[str, str] = {
    "source_name": "Channel",
    "landing_site": "Landing page",
    "referring_site": "Referred by",
}
SPANS: Mapping[str, timedelta | None] = {
    "window": None,  # `alerts.window` in the config (24 hours unless set): what alerts look at
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


def windows(alerts_window: timedelta) -> dict[str, str]:
    """The periods to choose from, in words: {"window": "Last day", "7d": "Last 7 days", …}."""
    return {key: _last(span or alerts_window) for key, span in SPANS.items()}


def _last(span: timedelta) -> str:
    words = figures.duration_words(span)
    return f"Last {words.removeprefix('1 ')}"


@dataclass(frozen=True, slots=True)
class StageRow:
    stage: str
    label: str
    carts: int
    share: Decimal
    baseline_share: Decimal
    change: Decimal  # share minus baseline share, as a fraction (shown in points)
    z: Decimal
    alert: bool


def stage_rows(stages: list[StageFigures]) -> list[StageRow]:
    """The diagnosis's stages in checkout order, in words, with the change against usual."""
    return [
        StageRow(
            stage=s.stage,
            label=STAGE_WORDS.get(s.stage, s.stage.replace("_", " ").capitalize()),
            carts=s.carts,
            share=_fraction(s.share),
            baseline_share=_fraction(s.baseline_share),
            change=_fraction(s.share) - _fraction(s.baseline_share),
            z=Decimal(str(s.z)),
            alert=s.alert,
        )
        for s in stages
    ]


def _fraction(value: float) -> Decimal:
    return Decimal(str(round(value, 4)))


@dataclass(frozen=True, slots=True)
class DiagnosticsView:
    store_id: str
    window: str  # a key of SPANS
    since: datetime
    until: datetime
    carts: int
    baseline_carts: int
    stages: list[StageRow]
    sources: list[tuple[str, list[tuple[str, int]]]]  # (what, [(value, carts)])
    alerts: list[Alert]
    api_query: str  # the same figures from the API


def diagnostics_view(rt: Runtime, store_id: str, window: str) -> DiagnosticsView:
    now = rt.clock.now()
    span = SPANS[window] or rt.settings.alerts.window
    since = now - span
    found: Diagnosis = diagnose(rt.store, store_id, since, now, rt.settings.alerts)
    sources = [
        (SOURCE_WORDS.get(name, name), sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        for name, counts in found.sources.items()
    ]
    return DiagnosticsView(
        store_id=store_id,
        window=window,
        since=found.since,
        until=found.until,
        carts=found.carts,
        baseline_carts=found.baseline_carts,
        stages=stage_rows(found.stages),
        sources=sources,
        alerts=sorted(found.alerts, key=lambda a: a.raised_at, reverse=True),
        api_query="/api/diagnostics?" + urlencode({"store": store_id, "since": since.isoformat()}),
    )


@router.get("/dashboard/diagnostics")
async def diagnostics(request: Request, store: Filter = None, window: Filter = None) -> Response:
    rt: Runtime = request.app.state.runtime
    limited = scope(request)
    if limited and store and store != limited:
        text = f"This login sees only the store {limited!r}."
        return message_page(request, status=400, title="Check the filter", text=text)
    store_id = limited or store or rt.settings.stores[0].id
    if rt.settings.store(store_id) is None:
        known = ", ".join(s.id for s in rt.settings.stores)
        text = f"No store {store_id!r} is configured (stores: {known})."
        return message_page(request, status=400, title="Check the filter", text=text)
    chosen = window if window is not None and window in SPANS else "window"
    view = await run_in_threadpool(diagnostics_view, rt, store_id, chosen)
    return page(
        request,
        "diagnostics.html",
        store_id=store_id,
        view=view,
        windows=windows(rt.settings.alerts.window),
        rules=rt.settings.alerts,
    )
