"""`/metrics` for Prometheus and `/readyz` for a load balancer or an orchestrator.

`/healthz` (in rest.py) only says the process answers and the database is reachable; `/readyz`
also says the schema is the one this code needs, so a process started before `cartback migrate`
is kept out of rotation with a 503 that names the reason.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials

from cartback import __version__
from cartback.api.deps import RuntimeDep, bearer, require_token
from cartback.api.schemas import Health
from cartback.errors import NotReady, Unauthorized
from cartback.runtime import Runtime
from cartback.store import migrate
from cartback.store.sql import SqlStore

router = APIRouter(tags=["health"])

_PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def metrics_access(
    rt: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Open with `metrics: {public: true}`; else the global API token (the figures are every
    store's, so a store's own token does not open them)."""
    if not rt.settings.metrics.public and require_token(rt, credentials).store_id is not None:
        raise Unauthorized("the metrics need the global api_token, not a store's")


@router.get(
    "/metrics",
    dependencies=[Depends(metrics_access)],
    response_class=Response,
    responses={200: {"content": {_PROMETHEUS_TEXT: {}}}},
    summary="Counters and gauges in Prometheus' text format",
)
async def metrics(rt: RuntimeDep) -> Response:
    page = await run_in_threadpool(rt.metrics.page)  # the backlog is read from the database
    return Response(page, media_type=_PROMETHEUS_TEXT)


@router.get("/readyz", response_model=Health, summary="Ready: database reached, schema current")
async def readyz(rt: RuntimeDep) -> Health:
    await run_in_threadpool(_check_ready, rt)
    return Health(status="ready", database=rt.store.kind, version=__version__)


def _check_ready(rt: Runtime) -> None:
    try:
        rt.store.ping()
    except Exception as exc:
        raise NotReady(f"the database does not answer ({type(exc).__name__})") from None
    store = rt.store
    if not isinstance(store, SqlStore):
        return  # memory has no schema
    current, needed = store.revision(), migrate.code_head()
    if current != needed:
        raise NotReady(
            f"the database schema is at {current or 'nothing'}, this cartback needs {needed}: "
            "run `cartback migrate`"
        )
