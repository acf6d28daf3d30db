"""Pages from the package's Jinja2 templates, and the static files beside them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from cartback import __version__
from cartback.api.dashboard import figures
from cartback.api.dashboard.formatting import Formatter, Place, shared_place
from cartback.config import StoreConfig
from cartback.runtime import Runtime

# Nothing but this server's own files: no inline script, no other host (see the browser test).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_env = Environment(
    loader=PackageLoader("cartback.api.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(
    version=__version__,
    reason_label=figures.reason_label,
    channel_label=figures.channel_label,
)


def _json_script(value: Any) -> Markup:
    """Data for a script, safe inside <script type="application/json">."""
    text = json.dumps(value, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))  # noqa: S704


_env.filters["json_script"] = _json_script


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    label: str
    current: bool


def _nav(path: str) -> list[NavItem]:
    items = [
        ("/dashboard", "Overview"),
        ("/dashboard/carts", "Carts"),
        ("/dashboard/messages", "Messages"),
        ("/dashboard/contacts", "Contacts"),
        ("/dashboard/flows", "Flows"),
        ("/dashboard/diagnostics", "Diagnostics"),
        ("/dashboard/deliveries", "Deliveries"),
    ]
    return [NavItem(href, label, _is_current(path, href)) for href, label in items]


def _is_current(path: str, href: str) -> bool:
    if href == "/dashboard":
        return path in ("/dashboard", "/dashboard/")
    return path == href or path.startswith(href + "/")


def scope(request: Request) -> str | None:
    """The one store the session may see (a store's own token), or None for every store."""
    session = getattr(request.state, "session", None)
    return session.store if session is not None else None


def sees(request: Request, store_id: str) -> bool:
    limited = scope(request)
    return limited is None or limited == store_id


def visible_stores(request: Request) -> list[StoreConfig]:
    rt: Runtime = request.app.state.runtime
    return [s for s in rt.settings.stores if sees(request, s.id)]


def view_place(rt: Runtime, store_id: str | None) -> Place:
    """The clock and locale of a page: its store's, or the stores' shared one."""
    store = rt.settings.store(store_id) if store_id else None
    return shared_place([store] if store is not None else rt.settings.stores)


def page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    store_id: str | None = None,
    **context: Any,
) -> HTMLResponse:
    rt: Runtime = request.app.state.runtime
    session = getattr(request.state, "session", None)
    html = _env.get_template(template).render(
        path=request.url.path,
        nav=_nav(request.url.path) if session is not None else [],
        csrf=session.csrf if session is not None else "",
        fmt=Formatter(rt.settings.stores, view_place(rt, store_id)),
        settings=rt.settings,
        stores=visible_stores(request),
        store_id=store_id,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def message_page(request: Request, *, status: int, title: str, text: str) -> HTMLResponse:
    return page(request, "message.html", status=status, title=title, text=text)


# static files -----------------------------------------------------------------------------

_STATIC = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "uPlot.iife.min.js": "text/javascript; charset=utf-8",
    "uPlot.min.css": "text/css; charset=utf-8",
}


@lru_cache(maxsize=len(_STATIC))
def _static_file(name: str) -> tuple[bytes, str]:
    content = (files("cartback.api.dashboard") / "static" / name).read_bytes()
    return content, '"' + hashlib.sha256(content).hexdigest()[:16] + '"'


def static(name: str, request: Request) -> Response:
    media_type = _STATIC.get(name)
    if media_type is None:
        return Response("not found", status_code=404, media_type="text/plain")
    content, etag = _static_file(name)
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600", **_NOSNIFF}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type=media_type, headers=headers)


_NOSNIFF = {"X-Content-Type-Options": "nosniff"}
