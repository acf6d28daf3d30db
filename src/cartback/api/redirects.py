"""Short links: `/r/{code}` records the click and sends the shopper back to the basket."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from cartback.api.deps import RuntimeDep
from cartback.domain.links import link_problem
from cartback.domain.records import Click
from cartback.errors import NotFound
from cartback.runtime import Runtime

router = APIRouter(tags=["links"])
log = logging.getLogger("cartback.links")


@router.get(
    "/r/{code}",
    summary="Follow a short link",
    response_class=RedirectResponse,
    status_code=302,
    responses={302: {"description": "to the recovery URL"}, 404: {"description": "unknown code"}},
)
async def follow(code: str, request: Request, rt: RuntimeDep) -> Response:
    target = await run_in_threadpool(_click, rt, code, request.headers.get("user-agent"))
    if target is None:
        raise NotFound("this link does not exist")
    return RedirectResponse(target, status_code=302)


def _safe(target: str, code: str) -> str | None:
    """A target stored before links were checked may still be unsafe: it is never served."""
    problem = link_problem(target)
    if problem is not None:
        log.warning("link target refused", extra={"code": code, "problem": problem})
        return None
    return target


def _click(rt: Runtime, code: str, user_agent: str | None) -> str | None:
    if not code.replace("-", "").replace("_", "").isalnum() or len(code) > 32:
        return None
    with rt.store.transaction() as tx:
        link = tx.messages.link(code)
        if link is None or _safe(link.target_url, code) is None:
            return None
        tx.messages.add_click(
            Click(code, link.message_id, link.cart_id, rt.clock.now(), user_agent)
        )
    log.info("link followed", extra={"message_id": link.message_id, "cart_id": link.cart_id})
    return link.target_url
