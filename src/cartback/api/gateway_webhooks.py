"""Gateway callbacks: delivery reports and replies (inMobile, Twilio), and email unsubscribes.

Errors are JSON (`{"error": {"code", "message"}}`) like everywhere else, with one exception made
for people: the unsubscribe link opened in a browser (`GET /u/{token}`) answers an HTML page,
also when the token is not valid (404). A client that asks for JSON (`Accept: application/json`
before any HTML type) gets the JSON error instead, and so does the one-click POST of RFC 8058,
which mail providers send, not people.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from cartback.api.deps import RuntimeDep
from cartback.channels import twilio
from cartback.channels._http import GatewayAnswerError
from cartback.channels.twilio import TwilioGateway
from cartback.channels.unsubscribe import read_token_any
from cartback.errors import (
    BadSignature,
    NotConfigured,
    NotFound,
    Unauthorized,
    UnreadableBody,
)

router = APIRouter(tags=["gateways"])
log = logging.getLogger("cartback.api")
_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@router.post("/webhooks/inmobile/status", summary="inMobile delivery reports")
async def inmobile_status(
    request: Request, rt: RuntimeDep, key: Annotated[str, Query()] = ""
) -> JSONResponse:
    gateway = rt.gateways.inmobile
    if gateway is None:
        raise NotConfigured("inMobile is not the configured SMS provider")
    if not rt.signing.is_callback_key(key):
        raise Unauthorized("the callback key does not match")
    body = await request.body()
    try:
        reports = gateway.parse_status_reports(body)
    except GatewayAnswerError as exc:
        raise UnreadableBody(str(exc)) from None
    matched = 0
    for report in reports:
        matched += await run_in_threadpool(rt.feedback.apply_report, report)
    return JSONResponse({"reports": len(reports), "matched": matched})


@router.post("/webhooks/twilio/status", summary="Twilio status callbacks")
async def twilio_status(request: Request, rt: RuntimeDep) -> Response:
    gateway, form = await _verified_twilio_form(request, rt)
    try:
        report = gateway.parse_status_callback(form)
    except GatewayAnswerError as exc:
        raise UnreadableBody(str(exc)) from None
    await run_in_threadpool(rt.feedback.apply_report, report)
    return Response(status_code=204)


@router.post("/webhooks/twilio/inbound", summary="Twilio inbound messages (STOP, START)")
async def twilio_inbound(request: Request, rt: RuntimeDep) -> Response:
    gateway, form = await _verified_twilio_form(request, rt)
    try:
        message = gateway.parse_inbound(form)
    except GatewayAnswerError as exc:
        raise UnreadableBody(str(exc)) from None
    await run_in_threadpool(rt.feedback.apply_inbound, message)
    return Response(_EMPTY_TWIML, media_type="text/xml")


async def _verified_twilio_form(
    request: Request, rt: RuntimeDep
) -> tuple[TwilioGateway, dict[str, str]]:
    accounts = rt.gateways.twilio_accounts
    if not accounts:
        raise NotConfigured("Twilio is not the configured SMS provider")
    form = {k: str(v) for k, v in (await request.form()).items()}
    # Twilio signs the URL it called: ours as the public sees it, with its query string.
    url = rt.settings.public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signed = request.headers.get("X-Twilio-Signature")
    for gateway, auth_token in accounts:  # the global account, and stores' own
        if twilio.verify_signature(url, form, signed, auth_token):
            return gateway, form
    raise BadSignature("the X-Twilio-Signature does not match this request")


@router.get("/u/{token}", summary="Unsubscribe from marketing email", response_class=HTMLResponse)
async def unsubscribe_page(token: str, request: Request, rt: RuntimeDep) -> Response:
    try:
        return await _unsubscribe(token, rt, "unsubscribe-link")
    except NotFound as exc:
        if _wants_json(request.headers.get("accept")):
            raise
        return HTMLResponse(_page(exc.message), status_code=exc.http_status)


@router.post("/u/{token}", summary="One-click unsubscribe (RFC 8058)")
async def unsubscribe_one_click(token: str, rt: RuntimeDep) -> Response:
    return await _unsubscribe(token, rt, "list-unsubscribe-post")


async def _unsubscribe(token: str, rt: RuntimeDep, how: str) -> Response:
    found = read_token_any(rt.signing.verifying, token)
    if found is None:
        raise NotFound("This unsubscribe link is not valid.")
    store_id, email = found
    await run_in_threadpool(rt.feedback.unsubscribe_email, store_id, email, how)
    store = rt.settings.store(store_id)
    name = store.name if store is not None else "this shop"
    return HTMLResponse(_page(f"You will get no more marketing email from {_escape(name)}."))


def _page(sentence: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Unsubscribe</title></head>"
        f"<body style='font-family:sans-serif;max-width:32em;margin:4em auto'><p>{sentence}</p>"
        "</body></html>"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _wants_json(accept: str | None) -> bool:
    """Whether the Accept header names JSON before any HTML type (a browser names HTML first)."""
    kinds = [part.split(";")[0].strip().lower() for part in (accept or "").split(",")]
    for kind in kinds:
        if kind in ("text/html", "application/xhtml+xml"):
            return False
        if kind == "application/json" or kind.endswith("+json"):
            return True
    return False
