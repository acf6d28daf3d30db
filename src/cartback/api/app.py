"""The HTTP face of cartback: webhooks, short-link redirects, the REST API and health."""

from __future__ import annotations

from fastapi import FastAPI

from cartback import __version__
from cartback.api import contacts, gateway_webhooks, redirects, rest, webhooks
from cartback.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="cartback",
        version=__version__,
        description="Self-hosted abandoned-cart recovery: webhooks in, timed messages out.",
    )
    app.state.runtime = runtime
    app.include_router(webhooks.router)
    app.include_router(gateway_webhooks.router)
    app.include_router(redirects.router)
    app.include_router(rest.router)
    app.include_router(contacts.router)
    return app
