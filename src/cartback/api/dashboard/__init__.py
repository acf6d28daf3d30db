"""The dashboard for shop owners at /dashboard: server-rendered pages behind a session login."""

from __future__ import annotations

from fastapi import APIRouter

from cartback.api.dashboard import diagnostics, login, pages, privacy

router = APIRouter(include_in_schema=False)
router.include_router(login.public)
router.include_router(login.guarded)
router.include_router(pages.router)
router.include_router(privacy.router)
router.include_router(diagnostics.router)

__all__ = ["router"]
