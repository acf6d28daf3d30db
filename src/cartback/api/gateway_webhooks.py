"""Gateway callbacks: delivery reports and replies (inMobile, Twilio), and email unsubscribes."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from cartback.api.deps import RuntimeDep
from cartback.channels import twilio
from cartback.channels._http import GatewayAnswerError
from cartback.channels.unsubscribe import key_from, read_token
from cartback.runtime import callback_key

router = APIRouter(tags=["gateways"])
log = logging.getLogger("cartback.api")
_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@router.post("/webhooks/inmobile/status", summary="inMobile delivery reports")
async def inmobile_status(
    request: Request, rt: RuntimeDep, key: Annotated[str, Query()] = ""
) -> JSONResponse:
    gateway = rt.gateways.inmobile
    if gateway is None:
        return _error(404, "inMobile is not the configured SMS provider")
    if not hmac.compare_digest(key.encode(), callback_key(rt.settings.api_token).encode()):
        return _error(401, "the callback key does not match")
    body = await request.body()
    try:
        reports = gateway.parse_status_reports(body)
    except GatewayAnswerError as exc:
        return _error(400, str(exc))
    matched = 0
    for report in reports:
        matched += await run_in_threadpool(rt.feedback.apply_report, report)
    return JSONResponse({"reports": len(reports), "matched": matched})


@router.post("/webhooks/twilio/status", summary="Twilio status callbacks")
async def twilio_status(request: Request, rt: RuntimeDep) -> Response:
    form = await _verified_twilio_form(request, rt)
    if isinstance(form, Response):
        return form
    assert rt.gateways.twilio is not None
    try:
        report = rt.gateways.twilio.parse_status_callback(form)
    except GatewayAnswerError as exc:
        return _error(400, str(exc))
    await run_in_threadpool(rt.feedback.apply_report, report)
    return Response(status_code=204)


@router.post("/webhooks/twilio/inbound", summary="Twilio inbound messages (STOP, START)")
async def twilio_inbound(request: Request, rt: RuntimeDep) -> Response:
    form = await _verified_twilio_form(request, rt)
    if isinstance(form, Response):
        return form
    assert rt.gateways.twilio is not None
    try:
        message = rt.gateways.twilio.parse_inbound(form)
    except GatewayAnswerError as exc:
        return _error(400, str(exc))
    await run_in_threadpool(rt.feedback.apply_inbound, message)
    return Response(_EMPTY_TWIML, media_type="text/xml")


async def _verified_twilio_form(request: Request, rt: RuntimeDep) -> dict[str, str] | Response:
    sms = rt.settings.channels.sms
    if rt.gateways.twilio is None or sms is None or sms.auth_token is None:
        return _error(404, "Twilio is not the configured SMS provider")
    form = {k: str(v) for k, v in (await request.form()).items()}
    # Twilio signs the URL it called: ours as the public sees it, with its query string.
    url = rt.settings.public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not twilio.verify_signature(
        url, form, request.headers.get("X-Twilio-Signature"), sms.auth_token
    ):
        return _error(401, "the X-Twilio-Signature does not match this request")
    return form


@router.get("/u/{token}", summary="Unsubscribe from marketing email", response_class=HTMLResponse)
async def unsubscribe_page(token: str, rt: RuntimeDep) -> Response:
    return await _unsubscribe(token, rt, "unsubscribe-link")


@router.post("/u/{token}", summary="One-click unsubscribe (RFC 8058)")
async def unsubscribe_one_click(token: str, rt: RuntimeDep) -> Response:
    return await _unsubscribe(token, rt, "list-unsubscribe-post")


async def _unsubscribe(token: str, rt: RuntimeDep, how: str) -> Response:
    found = read_token(key_from(rt.settings.api_token), token)
    if found is None:
        return HTMLResponse(_page("This unsubscribe link is not valid."), status_code=404)
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


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message})
