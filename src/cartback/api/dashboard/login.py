"""Logging in and out, `/` to the dashboard, and the dashboard's static files."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from cartback.api.dashboard import auth, render
from cartback.runtime import Runtime

public = APIRouter(include_in_schema=False)
guarded = APIRouter(include_in_schema=False, route_class=auth.SessionRoute)


@public.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=303)


@public.get("/dashboard/static/{name}")
def static(name: str, request: Request) -> Response:
    return render.static(name, request)


@public.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    target = auth.safe_next(next)
    if auth.current(request) is not None:
        return RedirectResponse(target, status_code=303)
    return _form(request, target)


def _form(request: Request, target: str, *, problem: str | None = None) -> Response:
    rt: Runtime = request.app.state.runtime
    nonce = request.cookies.get(auth.LOGIN_COOKIE) or secrets.token_urlsafe(24)
    status = 200 if problem is None else 401
    response = render.page(
        request, "login.html", status=status, login_csrf=nonce, next=target, problem=problem
    )
    auth.set_login_cookie(response, rt.settings, nonce)
    return response


@public.post("/login")
async def login(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    form = await request.form()
    target = auth.safe_next(str(form.get("next") or ""))
    nonce = request.cookies.get(auth.LOGIN_COOKIE) or ""
    given_nonce = str(form.get("csrf") or "")
    if not nonce or not hmac.compare_digest(nonce, given_nonce) or not auth.same_origin(request):
        return _form(request, target, problem="The login form expired. Please try again.")
    found = auth.login_for(rt.settings, str(form.get("token") or ""))
    if found is None:
        return _form(request, target, problem="That is not this server's API token.")
    key = auth.signing_key(rt.settings)
    mark = auth.store_mark(key, rt.settings, found.store)
    value, _session = auth.issue(key, rt.clock.now(), store=found.store, mark=mark)
    response = RedirectResponse(target, status_code=303)
    auth.set_session_cookie(response, rt.settings, value)
    response.delete_cookie(auth.LOGIN_COOKIE, path="/login")
    return response


@guarded.post("/logout")
def logout(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    response = RedirectResponse("/login", status_code=303)
    auth.clear_session_cookie(response, rt.settings)
    return response
