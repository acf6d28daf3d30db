"""`/docs`: Swagger UI from files shipped inside the package, so the page works offline.

FastAPI's own `/docs` loads Swagger UI from a CDN, and ReDoc (`/redoc`) too; cartback turns both
off and serves Swagger UI from `static/swagger-ui` instead. No page cartback serves loads a
script, style or font from another host.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_UI = Path(__file__).parent / "static" / "swagger-ui"
ASSETS = "/docs/assets"


def add_docs(app: FastAPI) -> None:
    """Serve `/docs` and its assets; the app must be made with `docs_url=None, redoc_url=None`."""
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_UI), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} — API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
            # Swagger UI would otherwise ask validator.swagger.io about the spec.
            swagger_ui_parameters={"validatorUrl": None},
        )
