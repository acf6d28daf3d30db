"""The REST API under /api (bearer token), and /healthz."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool

from cartback import __version__
from cartback.api import views
from cartback.api.deps import CallerDep, RuntimeDep, require_token
from cartback.api.inputs import (
    After,
    AfterMessage,
    CartId,
    Filter,
    Limit,
    Offset,
    Since,
    Text,
    since_at,
)
from cartback.api.schemas import (
    CartDetail,
    CartSummary,
    DeliveryOut,
    DiagnosticsOut,
    Health,
    MessageOut,
    Report,
)
from cartback.domain.breakdown import By
from cartback.domain.records import DeliveryStatus
from cartback.engine.diagnostics import diagnose
from cartback.engine.timeline import cart_story

router = APIRouter()
api = APIRouter(prefix="/api", dependencies=[Depends(require_token)], tags=["api"])


@router.get("/healthz", response_model=Health, tags=["health"])
async def healthz(rt: RuntimeDep) -> Health:
    await run_in_threadpool(rt.store.ping)
    return Health(status="ok", database=rt.store.kind, version=__version__)


@api.get("/carts", response_model=list[CartSummary])
def list_carts(
    rt: RuntimeDep,
    caller: CallerDep,
    store: Filter = None,
    status: Filter = None,
    limit: Limit = 100,
    offset: Offset = 0,
    after: After = None,
) -> list[Any]:
    with rt.store.reading() as tx:
        found = tx.carts.page(
            store_id=caller.stores(store), status=status, limit=limit, offset=offset, after=after
        )
    return [views.cart_fields(cart) for cart in found]


@api.get("/carts/{cart_id}", response_model=CartDetail)
def get_cart(cart_id: CartId, rt: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    story = cart_story(rt.store, cart_id)
    if story is None or not caller.may_see(story.cart.store_id):
        raise HTTPException(status_code=404, detail=f"no cart with id {cart_id}")
    return views.cart_detail(story)


@api.get("/messages", response_model=list[MessageOut])
def list_messages(
    rt: RuntimeDep,
    caller: CallerDep,
    store: Filter = None,
    status: Filter = None,
    limit: Limit = 100,
    offset: Offset = 0,
    after: AfterMessage = None,
) -> list[Any]:
    with rt.store.reading() as tx:
        found = tx.messages.page(
            store_id=caller.stores(store), status=status, limit=limit, offset=offset, after=after
        )
    return [views.message_fields(message) for message in found]


@api.get("/report", response_model=Report)
def report(
    rt: RuntimeDep,
    caller: CallerDep,
    store: Filter = None,
    since: Since = None,
    flow: Filter = None,
    by: By | None = None,
) -> Report:
    """Sent, spent and recovered; the holdout, the lift and the experiments; `by` adds rows
    per flow, step, channel, segment, arm or day."""
    store = caller.stores(store)
    if store is not None and rt.settings.store(store) is None:
        raise HTTPException(status_code=404, detail=f"no store {store!r} is configured")
    if flow is not None and all(f.id != flow for f in rt.settings.flows):
        raise HTTPException(status_code=404, detail=f"no flow {flow!r} is configured")
    return views.report_answer(rt, store, since_at(since, rt.clock.now()), flow, by)


@api.get("/diagnostics", response_model=DiagnosticsOut)
def diagnostics(rt: RuntimeDep, caller: CallerDep, store: Text, since: Since = None) -> Any:
    """Abandoned carts per checkout stage since `since` (default: the alerts' window), against
    the store's baseline, by source, and the alerts raised in that time."""
    if not caller.may_see(store) or rt.settings.store(store) is None:
        raise HTTPException(status_code=404, detail=f"no store {store!r} is configured")
    now = rt.clock.now()
    start = since_at(since, now) or now - rt.settings.alerts.window
    found = diagnose(rt.store, store, start, now, rt.settings.alerts)
    return {**asdict(found), "store": store, "alerts": [asdict(a) for a in found.alerts]}


@api.get("/deliveries", response_model=list[DeliveryOut])
def list_deliveries(
    rt: RuntimeDep,
    caller: CallerDep,
    status: Filter = None,
    store: Filter = None,
    limit: Limit = 100,
    after: After = None,
) -> list[Any]:
    known = {str(s): s for s in DeliveryStatus}
    if status is not None and status not in known:
        return []  # no delivery has that status
    wanted = known[status] if status is not None else None
    with rt.store.reading() as tx:
        found = tx.deliveries.listing(
            status=wanted, store_id=caller.stores(store), limit=limit, after=after
        )
    return [views.delivery_fields(delivery) for delivery in found]


router.include_router(api)
