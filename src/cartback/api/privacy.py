"""A person's data on request: `GET /api/contacts/{phone or email}/export` and
`DELETE /api/contacts/{phone or email}` (see `engine.privacy`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from cartback.api.deps import Caller, CallerDep, RuntimeDep, require_token
from cartback.api.inputs import Filter, Text
from cartback.domain.privacy import Subject
from cartback.engine.privacy import subject_for_contact
from cartback.errors import NotFound
from cartback.runtime import Runtime, privacy_requests

router = APIRouter(prefix="/api", dependencies=[Depends(require_token)], tags=["api"])


class Erased(BaseModel):
    erased: bool
    counts: dict[str, int]  # rows changed or removed, by table


@router.get("/contacts/{contact_id}/export", summary="Everything stored about a person")
def export_contact(
    contact_id: Text, rt: RuntimeDep, caller: CallerDep, store: Filter = None
) -> dict[str, Any]:
    """Carts (with their timelines), orders, messages, clicks, the consent ledger,
    suppressions, replies, touches and the raw deliveries that mention the phone number
    (E.164; `+` as %2B) or email address, in every store (`store`: in that one; a store's
    token: in its own)."""
    subject = _subject(rt, caller, contact_id, store)
    with rt.store.reading() as tx:
        return privacy_requests(rt).export(tx, subject, rt.clock.now())


@router.delete("/contacts/{contact_id}", response_model=Erased, summary="Erase a person")
def erase_contact(
    contact_id: Text, rt: RuntimeDep, caller: CallerDep, store: Filter = None
) -> Erased:
    """Removes or anonymises the person in every store (`store`: in that one; a store's
    token: in its own), raw deliveries and message texts included; a withdrawal or STOP of
    theirs is kept as a keyed hash and still honoured."""
    subject = _subject(rt, caller, contact_id, store)
    with rt.store.transaction() as tx:
        entry = privacy_requests(rt).erase(tx, subject, rt.clock.now(), source="api")
    return Erased(erased=True, counts=dict(entry.counts))


def _subject(rt: Runtime, caller: Caller, contact_id: str, asked: str | None) -> Subject:
    store_id = caller.stores(asked)
    home = rt.settings.store(store_id) if store_id else None
    if store_id and home is None:
        raise NotFound(f"no store {store_id!r} is configured")
    country = (home or rt.settings.stores[0]).default_country
    return subject_for_contact(contact_id, country, store_id)
