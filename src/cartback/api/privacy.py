"""A person's data on request: `GET /api/contacts/{phone or email}/export` and
`DELETE /api/contacts/{phone or email}` (see `engine.privacy`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from cartback.api.deps import RuntimeDep, require_token
from cartback.engine.privacy import Privacy, subject_for_contact
from cartback.runtime import erase_key

router = APIRouter(prefix="/api", dependencies=[Depends(require_token)], tags=["api"])


class Erased(BaseModel):
    erased: bool
    counts: dict[str, int]  # rows changed or removed, by table


@router.get("/contacts/{contact_id}/export", summary="Everything stored about a person")
def export_contact(contact_id: str, rt: RuntimeDep) -> dict[str, Any]:
    """Carts (with their timelines), orders, messages, clicks, the consent ledger,
    suppressions, replies, touches and the raw deliveries that mention the phone number
    (E.164; `+` as %2B) or email address, in every store."""
    subject = subject_for_contact(contact_id, rt.settings.stores[0].default_country)
    with rt.store.reading() as tx:
        return Privacy(erase_key(rt.settings)).export(tx, subject, rt.clock.now())


@router.delete("/contacts/{contact_id}", response_model=Erased, summary="Erase a person")
def erase_contact(contact_id: str, rt: RuntimeDep) -> Erased:
    """Removes or anonymises the person in every store, raw deliveries and message texts
    included; a withdrawal or STOP of theirs is kept as a keyed hash and still honoured."""
    subject = subject_for_contact(contact_id, rt.settings.stores[0].default_country)
    with rt.store.transaction() as tx:
        entry = Privacy(erase_key(rt.settings)).erase(tx, subject, rt.clock.now(), source="api")
    return Erased(erased=True, counts=dict(entry.counts))
