"""Every error answer in one shape: `{"error": {"code", "message"}}`, from whatever raised it.

`app.py` registers these handlers once: cartback's own errors, FastAPI's and Starlette's HTTP
exceptions (unknown routes, wrong methods, `HTTPException` in a router), request validation, and
anything unexpected (a 500 that names no internals).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cartback.api.schemas import ErrorOut
from cartback.errors import CartbackError, error_body

log = logging.getLogger("cartback.api")

_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorOut, "description": "Refused; `error.code` says why"},
}


def error_response(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: object
) -> JSONResponse:
    return JSONResponse(error_body(code, message, extra), status_code=status, headers=headers)


def code_for(status: int) -> str:
    if status in _CODES:
        return _CODES[status]
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "internal_error" if status >= 500 else "invalid_request"


async def on_cartback_error(_request: Request, exc: Exception) -> Response:
    if not isinstance(exc, CartbackError):
        return await on_unexpected(_request, exc)
    return JSONResponse(exc.body(), status_code=exc.http_status, headers=exc.headers or None)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):
        return await on_unexpected(request, exc)
    phrase = HTTPStatus(exc.status_code).phrase if exc.status_code in _statuses() else ""
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else phrase
    message = _route_message(request, exc.status_code) if detail == phrase else detail
    return error_response(
        exc.status_code, code_for(exc.status_code), message, headers=dict(exc.headers or {})
    )


async def on_validation_error(_request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        return await on_unexpected(_request, exc)
    problems = [_problem(error) for error in exc.errors()]
    message = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "invalid request"
    return error_response(422, "invalid_request", message, problems=problems)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.error(
        "request failed",
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"path": request.url.path, "method": request.method},
    )
    message = "cartback could not answer this request; the cause is in its log"
    return error_response(500, "internal_error", message)


def _statuses() -> set[int]:
    return {int(status) for status in HTTPStatus}


def _route_message(request: Request, status: int) -> str:
    where = f"{request.method} {request.url.path}"
    if status == 404:
        return f"nothing is at {where}"
    if status == 405:
        return f"{request.url.path} does not take {request.method}"
    return f"{where}: {HTTPStatus(status).phrase.lower()}"


def _problem(error: Any) -> dict[str, object]:
    loc: Sequence[str | int] = tuple(error.get("loc", ()))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return {"field": _field(loc), "loc": list(loc), "message": message}


def _field(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "request"
