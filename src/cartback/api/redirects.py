"""Short links: `/r/{code}` records the click and sends the shopper back to the basket;
`/o/{code}`, an email's open pixel, records the open.

Every request gets its redirect, people and machines alike; each click is kept with the bot
verdict (`domain/bots.py`: known previewers and scanners, HEAD requests, non-browsers within
seconds of delivery), and only people's clicks count for attribution and in the report."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from cartback.api.deps import RuntimeDep
from cartback.domain.bots import agent_class, bot_reason
from cartback.domain.records import Click, Message, Open
from cartback.errors import NotFound
from cartback.runtime import Runtime

router = APIRouter(tags=["links"])
# The smallest transparent GIF (1x1), answered to every open.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
log = logging.getLogger("cartback.links")


@router.api_route(
    "/r/{code}",
    methods=["GET", "HEAD"],
    summary="Follow a short link",
    response_class=RedirectResponse,
    status_code=302,
    responses={302: {"description": "to the recovery URL"}, 404: {"description": "unknown code"}},
)
async def follow(code: str, request: Request, rt: RuntimeDep) -> Response:
    agent = request.headers.get("user-agent")
    target = await run_in_threadpool(_click, rt, code, agent, request.method)
    if target is None:
        raise NotFound("this link does not exist")
    return RedirectResponse(target, status_code=302)


def _click(rt: Runtime, code: str, user_agent: str | None, method: str = "GET") -> str | None:
    if not _well_formed(code):
        return None
    with rt.store.transaction() as tx:
        link = tx.messages.link(code)
        if link is None:
            return None
        now = rt.clock.now()
        message = tx.messages.get(link.message_id)
        reason = bot_reason(user_agent, method, _seconds_since(message, now))
        click = Click(code, link.message_id, link.cart_id, now, user_agent, 0, reason)
        tx.messages.add_click(replace(click, agent_class=agent_class(user_agent, reason)))
    extra = {"message_id": link.message_id, "cart_id": link.cart_id, "bot": reason}
    log.info("link followed", extra=extra)
    return link.target_url


@router.get(
    "/o/{code}",
    summary="An email's open pixel",
    response_class=Response,
    responses={200: {"content": {"image/gif": {}}}, 404: {"description": "unknown code"}},
)
async def opened(code: str, request: Request, rt: RuntimeDep) -> Response:
    agent = request.headers.get("user-agent")
    if not await run_in_threadpool(_open, rt, code, agent):
        raise NotFound("this link does not exist")
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


def _open(rt: Runtime, code: str, user_agent: str | None) -> bool:
    if not _well_formed(code):
        return False
    with rt.store.transaction() as tx:
        link = tx.messages.link(code)
        if link is None:
            return False
        now = rt.clock.now()
        reason = bot_reason(
            user_agent, "GET", _seconds_since(tx.messages.get(link.message_id), now)
        )
        tx.measure.add_open(Open(link.message_id, link.cart_id, now, user_agent, reason))
    return True


def _well_formed(code: str) -> bool:
    return code.replace("-", "").replace("_", "").isalnum() and len(code) <= 32


def _seconds_since(message: Message | None, now: datetime) -> float | None:
    """Since the message went out (None before it did: a scanner cannot be told by timing)."""
    sent = message.sent_at if message is not None else None
    return (now - sent).total_seconds() if sent is not None else None
