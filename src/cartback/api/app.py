"""The HTTP face of cartback: webhooks, short-link redirects, the REST API and health."""

from __future__ import annotations

from fastapi import FastAPI

from cartback import __version__
from cartback.api import contacts, gateway_webhooks, redirects, rest, webhooks
from cartback.api.access_log import WebhookAccessLog
from cartback.api.docs import add_docs
from cartback.api.limits import BodyLimit, BodyTooLarge, on_too_large
from cartback.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="cartback",
        version=__version__,
        description="Self-hosted abandoned-cart recovery: webhooks in, timed messages out.",
        docs_url=None,  # served offline by add_docs; no CDN
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.add_middleware(BodyLimit)
    app.add_exception_handler(BodyTooLarge, on_too_large)
    app.add_middleware(WebhookAccessLog)  # outermost: sees every webhook answer
    add_docs(app)
    app.include_router(webhooks.router)
    app.include_router(gateway_webhooks.router)
    app.include_router(redirects.router)
    app.include_router(rest.router)
    app.include_router(contacts.router)
    return app
