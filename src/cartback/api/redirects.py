"""Short links: `/r/{code}` records the click and sends the shopper back to the basket;
`/o/{code}`, an email's open pixel, records the open.

Every request gets its redirect, people and machines alike; each click is kept with the bot
verdict (`domain/bots.py`: known previewers and scanners, HEAD requests, non-browsers within
seconds of delivery), and only people's clicks count for attribution and in the report."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from cartback.api.deps import RuntimeDep
from cartback.domain.bots import agent_class, bot_reason
from cartback.domain.links import link_problem
from cartback.domain.records import Click, Link, Open
from cartback.errors import NotFound
from cartback.runtime import Runtime
from cartback.store.base import Tx

router = APIRouter(tags=["links"])
# The smallest transparent GIF (1x1), answered to every open.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
log = logging.getLogger("cartback.links")


@router.head("/r/{code}", include_in_schema=False)  # link previews ask with HEAD: a bot's click
@router.get(
    "/r/{code}",
    summary="Follow a short link",
    response_class=RedirectResponse,
    status_code=302,
    responses={302: {"description": "to the recovery URL"}, 404: {"description": "unknown code"}},
)
async def follow(code: str, request: Request, rt: RuntimeDep) -> Response:
    agent = request.headers.get("user-agent")
    link = await run_in_threadpool(_record, rt, code, agent, request.method, _keep_click)
    if link is None:
        raise NotFound("this link does not exist")
    return RedirectResponse(link.target_url, status_code=302)


@router.get(
    "/o/{code}",
    summary="An email's open pixel",
    response_class=Response,
    responses={200: {"content": {"image/gif": {}}}, 404: {"description": "unknown code"}},
)
async def opened(code: str, request: Request, rt: RuntimeDep) -> Response:
    agent = request.headers.get("user-agent")
    if await run_in_threadpool(_record, rt, code, agent, "GET", _keep_open) is None:
        raise NotFound("this link does not exist")
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


def _record(rt: Runtime, code: str, user_agent: str | None, method: str, keep: Keep) -> Link | None:
    """Keep the request with its bot verdict (`keep` writes the click or the open); the link,
    or None for an unknown code."""
    if not (code.replace("-", "").replace("_", "").isalnum() and len(code) <= 32):
        return None
    with rt.store.transaction() as tx:
        link = tx.messages.link(code)
        if link is None or (keep is _keep_click and _safe(link.target_url, code) is None):
            return None
        now = rt.clock.now()
        sent = tx.messages.get(link.message_id)
        since = (now - sent.sent_at).total_seconds() if sent and sent.sent_at else None
        reason = bot_reason(user_agent, method, since)  # no timing before it went out
        keep(tx, link, Seen(now, user_agent, reason))
    extra = {"message_id": link.message_id, "cart_id": link.cart_id, "bot": reason}
    log.info("link followed" if keep is _keep_click else "email opened", extra=extra)
    return link


def _safe(target: str, code: str) -> str | None:
    """A target stored before links were checked may still be unsafe: it is never served."""
    problem = link_problem(target)
    if problem is not None:
        log.warning("link target refused", extra={"code": code, "problem": problem})
        return None
    return target


@dataclass(frozen=True, slots=True)
class Seen:
    at: datetime
    user_agent: str | None
    bot_reason: str | None


Keep = Callable[[Tx, Link, Seen], None]


def _keep_click(tx: Tx, link: Link, seen: Seen) -> None:
    kind = agent_class(seen.user_agent, seen.bot_reason)
    click = Click(link.code, link.message_id, link.cart_id, seen.at, seen.user_agent)
    tx.messages.add_click(replace(click, bot_reason=seen.bot_reason, agent_class=kind))


def _keep_open(tx: Tx, link: Link, seen: Seen) -> None:
    opened = Open(link.message_id, link.cart_id, seen.at, seen.user_agent, seen.bot_reason)
    tx.measure.add_open(opened)
