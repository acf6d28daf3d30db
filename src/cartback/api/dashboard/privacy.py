"""A person's data from the Contacts page: export it as JSON, or erase it after a confirmation
step. The same engine calls as `GET /api/contacts/{x}/export` and `DELETE /api/contacts/{x}`;
a session limited to one store exports and erases only what that store holds."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from cartback.api.dashboard.auth import SessionRoute
from cartback.api.dashboard.render import message_page, page, scope
from cartback.api.inputs import Filter
from cartback.domain.privacy import Subject
from cartback.engine.privacy import subject_for_contact
from cartback.errors import InvalidRequest
from cartback.runtime import Runtime, privacy_requests

router = APIRouter(include_in_schema=False, route_class=SessionRoute)


def _subject(request: Request, q: str | None) -> Subject:
    rt: Runtime = request.app.state.runtime
    limited = scope(request)
    home = rt.settings.store(limited) if limited else None
    country = (home or rt.settings.stores[0]).default_country
    return subject_for_contact((q or "").strip(), country, limited)


def export(rt: Runtime, subject: Subject) -> dict[str, Any]:
    with rt.store.reading() as tx:
        return privacy_requests(rt).export(tx, subject, rt.clock.now())


def erase(rt: Runtime, subject: Subject) -> dict[str, int]:
    """What the erasure changed or removed, by table (only the tables it touched)."""
    with rt.store.transaction() as tx:
        done = privacy_requests(rt).erase(tx, subject, rt.clock.now(), source="dashboard")
    return {table: count for table, count in done.counts.items() if count}


def _bad(request: Request, problem: InvalidRequest) -> Response:
    return message_page(request, status=400, title="Check the address", text=str(problem))


@router.get("/dashboard/contacts/export")
async def export_contact(request: Request, q: Filter = None) -> Response:
    try:
        subject = _subject(request, q)
    except InvalidRequest as problem:
        return _bad(request, problem)
    found = await run_in_threadpool(export, request.app.state.runtime, subject)
    body = json.dumps(found, indent=2, ensure_ascii=False)
    disposition = 'attachment; filename="cartback-contact-export.json"'
    headers = {"Content-Disposition": disposition, "Cache-Control": "no-store"}
    return Response(body, media_type="application/json", headers=headers)


@router.get("/dashboard/contacts/erase")
async def confirm_erase(request: Request, q: Filter = None) -> Response:
    try:
        _subject(request, q)
    except InvalidRequest as problem:
        return _bad(request, problem)
    return page(request, "erase.html", q=(q or "").strip(), store_id=scope(request))


@router.post("/dashboard/contacts/erase")
async def erase_contact(request: Request) -> Response:
    q = str((await request.form()).get("q") or "")
    try:
        subject = _subject(request, q)
    except InvalidRequest as problem:
        return _bad(request, problem)
    counts = await run_in_threadpool(erase, request.app.state.runtime, subject)
    done = ",".join(f"{table}:{count}" for table, count in sorted(counts.items()))
    query = urlencode({"erased": q.strip(), "counts": done})
    return RedirectResponse(f"/dashboard/contacts?{query}", status_code=303)


def erased_counts(value: str | None) -> list[tuple[str, int]]:
    """The `counts` a finished erasure puts in the Contacts page's address, read back."""
    found: list[tuple[str, int]] = []
    for part in (value or "").split(","):
        table, _, count = part.partition(":")
        if table and count.isdigit():
            found.append((table.replace("_", " "), int(count)))
    return found
