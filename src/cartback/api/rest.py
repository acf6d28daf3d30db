"""The REST API under /api (bearer token), and /healthz."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Column, Table, text

from cartback import __version__
from cartback.api import views
from cartback.api.deps import RuntimeDep, require_token
from cartback.api.schemas import CartDetail, CartSummary, DeliveryOut, Health, MessageOut, Report
from cartback.runtime import Runtime
from cartback.store import deliveries, listing, tables

router = APIRouter()
api = APIRouter(prefix="/api", dependencies=[Depends(require_token)], tags=["api"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


@router.get("/healthz", response_model=Health, tags=["health"])
async def healthz(rt: RuntimeDep) -> Health:
    def ping() -> None:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    await run_in_threadpool(ping)
    return Health(status="ok", database=rt.engine.dialect.name, version=__version__)


@api.get("/carts", response_model=list[CartSummary])
def list_carts(
    rt: RuntimeDep,
    store: str | None = None,
    status: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Any]:
    return _page(rt, tables.carts.c.updated_at, store, status, limit, offset)


@api.get("/carts/{cart_id}", response_model=CartDetail)
def get_cart(cart_id: int, rt: RuntimeDep) -> dict[str, Any]:
    with rt.engine.connect() as conn:
        detail = views.cart_detail(conn, cart_id)
    if detail is None:
        raise HTTPException(status_code=404, detail=f"no cart with id {cart_id}")
    return detail


@api.get("/messages", response_model=list[MessageOut])
def list_messages(
    rt: RuntimeDep,
    store: str | None = None,
    status: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Any]:
    return _page(rt, tables.messages.c.created_at, store, status, limit, offset)


@api.get("/report", response_model=Report)
def report(rt: RuntimeDep, store: str | None = None, since: datetime | None = None) -> Report:
    if store is not None and rt.settings.store(store) is None:
        raise HTTPException(status_code=404, detail=f"no store {store!r} is configured")
    if since is not None and since.tzinfo is None:
        raise HTTPException(
            status_code=400, detail="since: give a time zone, e.g. 2026-11-01T00:00:00Z"
        )
    return views.report(rt, store, since)


@api.get("/deliveries", response_model=list[DeliveryOut])
def list_deliveries(
    rt: RuntimeDep,
    status: str | None = None,
    store: str | None = None,
    limit: Limit = 100,
) -> list[Any]:
    with rt.engine.connect() as conn:
        rows = deliveries.listing(conn, status=status, store_id=store, limit=limit)
    return [row._asdict() for row in rows]


def _page(
    rt: Runtime,
    newest: Column[Any],
    store: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> list[Any]:
    """A list endpoint: one table, filtered by store and status, newest first."""
    table = newest.table
    assert isinstance(table, Table)
    with rt.engine.connect() as conn:
        rows = listing.page(
            conn, table, newest, store_id=store, status=status, limit=limit, offset=offset
        )
    return [row._asdict() for row in rows]


router.include_router(api)
