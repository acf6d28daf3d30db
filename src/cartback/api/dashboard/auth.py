"""Dashboard sessions: a signed, expiring cookie given for the API token, and CSRF checks.

The cookie holds no secret: its expiry, the session's CSRF token and the store it is limited
to (a store's own token gives a session that sees only that store), signed with HMAC-SHA256
under `signing_key`. It is HttpOnly, SameSite=Strict, and Secure when `public_url` is https.
Every POST behind the session must carry the session's CSRF token in its form (`csrf`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from cartback.config import Settings
from cartback.runtime import Runtime

SESSION_COOKIE = "cartback_session"
LOGIN_COOKIE = "cartback_login"  # the login form's own CSRF token, until a session exists
SESSION_LIFETIME = timedelta(hours=12)
LOGIN_FORM_LIFETIME = timedelta(hours=1)
_VERSION = 1


def signing_key(settings: Settings) -> bytes:
    """The key that signs dashboard sessions, derived from `api_token` under its own label (a
    new token ends every session). The one place to repoint to a dedicated signing secret."""
    return hmac.new(
        settings.api_token.encode(), b"cartback dashboard session", hashlib.sha256
    ).digest()


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str
    expires_at: datetime
    store: str | None = None  # the one store this session sees; None: every store
    mark: str | None = None  # that store's `store_mark` when the session began


def issue(
    key: bytes,
    now: datetime,
    lifetime: timedelta = SESSION_LIFETIME,
    *,
    store: str | None = None,
    mark: str | None = None,
) -> tuple[str, Session]:
    """A new session and its cookie value."""
    session = Session(secrets.token_urlsafe(24), now + lifetime, store, mark)
    payload = {
        "v": _VERSION,
        "csrf": session.csrf,
        "exp": int(session.expires_at.timestamp()),
        "store": store,
        "mark": mark,
    }
    return _sign(key, json.dumps(payload, separators=(",", ":")).encode()), session


def read(key: bytes, cookie: str | None, now: datetime) -> Session | None:
    """The session a cookie carries; None when it is missing, forged, altered or expired."""
    payload = _unsign(key, cookie or "")
    if payload is None:
        return None
    try:
        data = json.loads(payload)
        expires_at = datetime.fromtimestamp(int(data["exp"]), UTC)
        csrf = str(data["csrf"])
        version = data["v"]
        store, mark = data.get("store"), data.get("mark")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if version != _VERSION or expires_at <= now or not csrf:
        return None
    if not all(v is None or isinstance(v, str) for v in (store, mark)):
        return None
    return Session(csrf, expires_at, store, mark)


def _sign(key: bytes, payload: bytes) -> str:
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def _unsign(key: bytes, value: str) -> bytes | None:
    encoded, dot, given = value.partition(".")
    if not dot:
        return None
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        mac = base64.urlsafe_b64decode(given + "=" * (-len(given) % 4))
    except (binascii.Error, ValueError):
        return None
    expected = hmac.new(key, payload, hashlib.sha256).digest()
    return payload if hmac.compare_digest(mac, expected) else None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class Login:
    """Whose token was given: the admin's (`store` None) or one store's own `api_token`."""

    store: str | None = None


def login_for(settings: Settings, given: str) -> Login | None:
    """The login a token gives, as the API reads its bearer tokens; None for no token of ours."""
    if not given:
        return None
    if hmac.compare_digest(given.encode(), settings.api_token.encode()):
        return Login()
    for store in settings.stores:
        if store.api_token and hmac.compare_digest(given.encode(), store.api_token.encode()):
            return Login(store.id)
    return None


def store_mark(key: bytes, settings: Settings, store_id: str | None) -> str | None:
    """A short keyed digest of a store's token, kept in its sessions: a new token for the
    store (or none) ends them, as a new `api_token` ends every session."""
    store = settings.store(store_id) if store_id else None
    if store is None or not store.api_token:
        return None
    digest = hmac.new(key, store.api_token.encode(), hashlib.sha256).digest()
    return _b64(digest[:12])


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a dashboard path on this server, never another site."""
    if not target or not target.startswith("/dashboard") or "\\" in target:
        return "/dashboard"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/dashboard"
    return target


def secure_cookies(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def set_session_cookie(response: Response, settings: Settings, value: str) -> None:
    _set_cookie(response, settings, SESSION_COOKIE, value, SESSION_LIFETIME, "/")


def set_login_cookie(response: Response, settings: Settings, value: str) -> None:
    _set_cookie(response, settings, LOGIN_COOKIE, value, LOGIN_FORM_LIFETIME, "/login")


def _set_cookie(
    response: Response,
    settings: Settings,
    name: str,
    value: str,
    lifetime: timedelta,
    path: str,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(lifetime.total_seconds()),
        path=path,
        secure=secure_cookies(settings),
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=secure_cookies(settings), httponly=True, samesite="strict"
    )


def current(request: Request) -> Session | None:
    """The request's session; none when it is a store's and that store's token changed."""
    rt: Runtime = request.app.state.runtime
    key = signing_key(rt.settings)
    session = read(key, request.cookies.get(SESSION_COOKIE), rt.clock.now())
    if session is None or session.store is None:
        return session
    mark = store_mark(key, rt.settings, session.store)
    if mark is None or session.mark is None or not hmac.compare_digest(mark, session.mark):
        return None
    return session


def same_origin(request: Request) -> bool:
    """A browser's POST names its page's origin; one from another site is refused. This server
    is the host the request names, or `public_url`'s (a proxy may change the Host header)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    rt: Runtime = request.app.state.runtime
    ours = {request.headers.get("host", ""), urlsplit(rt.settings.public_url).netloc}
    return urlsplit(origin).netloc in ours


def to_login(request: Request) -> RedirectResponse:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": wanted}), status_code=303)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class SessionRoute(APIRoute):
    """A dashboard route: without a valid session it sends the browser to /login; a POST must
    come from this site and carry the session's CSRF token."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            session = current(request)
            if session is None:
                return to_login(request)
            request.state.session = session
            if request.method == "POST":
                form = await request.form()
                given = str(form.get("csrf") or "")
                if not same_origin(request) or not hmac.compare_digest(given, session.csrf):
                    return forbidden(request)
            return await handler(request)

        return guarded


def forbidden(request: Request) -> Response:
    from cartback.api.dashboard.render import message_page  # the page needs the templates

    return message_page(
        request,
        status=403,
        title="This form has expired",
        text="The form was not sent from this dashboard, or your session changed. "
        "Go back, reload the page and try again.",
    )
