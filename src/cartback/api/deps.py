"""Request dependencies shared by the routers."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cartback.errors import Unauthorized
from cartback.runtime import Runtime

_bearer = HTTPBearer(auto_error=False)


async def runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


RuntimeDep = Annotated[Runtime, Depends(runtime)]


def require_token(
    rt: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected = rt.settings.api_token.encode()
    given = credentials.credentials.encode() if credentials is not None else b""
    if not hmac.compare_digest(given, expected):
        raise Unauthorized(
            "missing or wrong bearer token (send Authorization: Bearer <api_token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
