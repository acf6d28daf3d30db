"""Request dependencies shared by the routers: the runtime, and who is calling.

The global `api_token` is the admin: every store. A store's own `api_token` (an agency's shop)
reads and changes that store only: another store's cart, message, delivery or report is
answered 404, exactly as one that does not exist, and lists hold only its own rows.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cartback.errors import NotFound, Unauthorized
from cartback.runtime import Runtime

bearer = HTTPBearer(auto_error=False)


def runtime_of(request: Request) -> Runtime:
    """The app's runtime; the webhook routes call it directly, sparing a dependency."""
    found: Runtime = request.app.state.runtime
    return found


async def runtime(request: Request) -> Runtime:
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(runtime)]


@dataclass(frozen=True, slots=True)
class Caller:
    """Whose token came: `store_id` None is the admin (the global token)."""

    store_id: str | None = None

    def stores(self, asked: str | None) -> str | None:
        """The store filter of a list or report: the one asked for, within the caller's reach
        (a store's token without `store=` means its own)."""
        if self.store_id is None or asked is None:
            return asked if self.store_id is None else self.store_id
        if asked != self.store_id:
            raise NotFound(f"no store {asked!r} is configured")
        return asked

    def may_see(self, store_id: str) -> bool:
        return self.store_id is None or self.store_id == store_id


def require_token(
    rt: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    given = credentials.credentials.encode() if credentials is not None else b""
    if given and hmac.compare_digest(given, rt.settings.api_token.encode()):
        return Caller()
    for store in rt.settings.stores:
        token = store.api_token
        if given and token is not None and hmac.compare_digest(given, token.encode()):
            return Caller(store.id)
    raise Unauthorized(
        "missing or wrong bearer token (send Authorization: Bearer <api_token>)",
        headers={"WWW-Authenticate": "Bearer"},
    )


CallerDep = Annotated[Caller, Depends(require_token)]
