"""The HTTP face of cartback: webhooks, short-link redirects, the REST API and health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from cartback import __version__
from cartback.api import (
    contacts,
    gateway_webhooks,
    metrics,
    privacy,
    redirects,
    rest,
    webhooks,
)
from cartback.api.access_log import WebhookAccessLog
from cartback.api.dashboard import router as dashboard_router
from cartback.api.docs import add_docs
from cartback.api.errors import (
    ERROR_RESPONSES,
    on_cartback_error,
    on_http_exception,
    on_unexpected,
    on_validation_error,
)
from cartback.api.lean import WebhookApp
from cartback.api.limits import BodyLimit
from cartback.api.observe import RequestContext
from cartback.errors import CartbackError
from cartback.integrations.registry import PLATFORMS
from cartback.runtime import Runtime


def _webhook_names() -> frozenset[str]:
    """The first path segment after /webhooks/ of every webhook route (platforms, gateways)."""
    paths = [p.path for p in PLATFORMS] + ["/webhooks/inmobile/", "/webhooks/twilio/"]
    return frozenset(path.split("/")[2] for path in paths)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """When the server stops: the connection its event loop stored deliveries on is closed
    (`Recorder.close`; a process that ends closes it anyway, a test's app does not)."""
    yield
    app.state.runtime.recorder.close()


def create_app(runtime: Runtime) -> WebhookApp:
    app = WebhookApp(
        lifespan=_lifespan,
        title="cartback",
        version=__version__,
        description="Self-hosted abandoned-cart recovery: webhooks in, timed messages out.",
        docs_url=None,  # served offline by add_docs; no CDN
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.add_middleware(BodyLimit)
    # Every error answer is {"error": {"code", "message"}}, whoever raised it.
    app.add_exception_handler(CartbackError, on_cartback_error)
    app.add_exception_handler(HTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
    shop_webhooks = webhooks.asgi_routes()
    app.router.routes.extend(shop_webhooks)  # first: they answer the webhooks
    app.shorten(shop_webhooks)  # past the framework's layers (api/lean.py)
    for router in (
        webhooks.router(),
        gateway_webhooks.router,
        redirects.router,
        rest.router,
        privacy.router,
        contacts.router,
        metrics.router,
    ):
        app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(dashboard_router)
    app.add_middleware(WebhookAccessLog)  # sees every webhook answer
    # outermost: the request id is in every line logged while answering, the access log's too
    app.add_middleware(RequestContext, metrics=runtime.metrics, platforms=_webhook_names())
    add_docs(app)
    return app
