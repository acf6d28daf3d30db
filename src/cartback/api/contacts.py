"""A person's consent history, and promotional messages that other systems sent them."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field, model_validator

from cartback.api.deps import Caller, CallerDep, RuntimeDep, require_token
from cartback.api.inputs import Instant, Text
from cartback.config import StoreConfig
from cartback.domain.bounds import SKEW
from cartback.domain.consent import ConsentRecord, address_for
from cartback.domain.emails import normalize_email
from cartback.domain.phone import InvalidPhone, normalize_phone
from cartback.domain.records import Touch
from cartback.runtime import Runtime

router = APIRouter(prefix="/api", dependencies=[Depends(require_token)], tags=["api"])


class TouchIn(BaseModel):
    phone: Text | None = None
    email: Text | None = None
    channel: Literal["sms", "email"]
    sent_at: Instant
    source: Text = Field(min_length=1, max_length=128)

    @model_validator(mode="after")
    def _address_for_channel(self) -> TouchIn:
        if self.sent_at.tzinfo is None:
            raise ValueError("sent_at: give a time zone, e.g. 2026-11-29T10:00:00Z")
        if self.channel == "sms" and not self.phone:
            raise ValueError("an sms touch needs `phone`")
        if self.channel == "email" and not self.email:
            raise ValueError("an email touch needs `email`")
        return self


class TouchesIn(BaseModel):
    touches: list[TouchIn] = Field(min_length=1, max_length=10_000)


class TouchesOut(BaseModel):
    received: int
    added: int  # the rest were already known


@router.post("/touches", response_model=TouchesOut, summary="Register promotional sends")
def post_touches(body: TouchesIn, rt: RuntimeDep, caller: CallerDep) -> TouchesOut:
    """Messages other systems sent (a newsletter, a campaign), so the cooldown counts them.
    A person's cooldown spans every store; a store's token reads phone numbers in its own
    country."""
    country = _home(rt, caller).default_country
    rows = [_touch(item, n, country) for n, item in enumerate(body.touches)]
    with rt.store.transaction() as tx:
        added = tx.touches.add_many(rows, rt.clock.now())
    return TouchesOut(received=len(rows), added=added)


def _touch(item: TouchIn, index: int, country: str | None) -> Touch:
    try:
        address = address_for(item.channel, item.phone, item.email, country)
    except ValueError as exc:
        raise HTTPException(422, f"touches[{index}].{exc}") from None
    return Touch(address, item.channel, item.sent_at, item.source)


class ConsentIn(BaseModel):
    store: Text
    channel: Literal["sms", "email"]
    granted: bool
    phone: Text | None = None
    email: Text | None = None
    occurred_at: Instant | None = None  # default: now
    wording: Text = Field(min_length=1, description="the words the person agreed to")
    source: Text = Field(default="api", max_length=100, description="e.g. signup-form, till")


class ConsentOut(BaseModel):
    address: str
    channel: str
    granted: bool


@router.post("/consent", response_model=ConsentOut, summary="Record consent given elsewhere")
def post_consent(body: ConsentIn, rt: RuntimeDep, caller: CallerDep) -> ConsentOut:
    store = rt.settings.store(caller.stores(body.store) or body.store)
    if store is None:
        raise HTTPException(422, f"store: {body.store!r} is not configured")
    if body.occurred_at is not None and body.occurred_at.tzinfo is None:
        raise HTTPException(422, "occurred_at: give a time zone, e.g. 2026-11-29T10:00:00Z")
    try:
        address = address_for(body.channel, body.phone, body.email, store.default_country)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    now = rt.clock.now()
    occurred_at = _not_ahead(body.occurred_at, now)
    record = ConsentRecord(store.id, body.channel, address, body.granted, occurred_at, body.wording)
    with rt.store.transaction() as tx:
        tx.consent.add_once(record.entry(f"api:{body.source}", now))
    return ConsentOut(address=address, channel=body.channel, granted=body.granted)


def _not_ahead(occurred_at: datetime | None, now: datetime) -> datetime:
    """Consent happened by now: a time a little ahead (clock skew) counts as now, a time further
    ahead is refused, so that a grant can never outrank a later withdrawal by its date."""
    if occurred_at is None or occurred_at <= now:
        return occurred_at or now
    if occurred_at - now > SKEW:
        raise HTTPException(
            422, f"occurred_at: {occurred_at.isoformat()} is in the future; give when it happened"
        )
    return now


class ConsentEntry(BaseModel):
    store_id: str
    channel: str
    granted: bool
    source: str
    detail: str | None
    occurred_at: datetime
    recorded_at: datetime


class Contact(BaseModel):
    id: str
    consent: dict[str, bool | None]  # per channel, the latest entry's answer (any store)
    history: list[ConsentEntry]
    suppressed: list[dict[str, Any]]
    messages: int


@router.get("/contacts/{contact_id}", response_model=Contact, summary="A person's consent")
def get_contact(contact_id: Text, rt: RuntimeDep, caller: CallerDep) -> Contact:
    """`contact_id` is a phone number (E.164, URL-encoded `+` as %2B) or an email address.
    A store's token sees the person's entries in its own store (and those no store owns, such
    as a STOP), and 404 for a person it never dealt with."""
    address = _address(contact_id, _home(rt, caller).default_country)
    with rt.store.reading() as tx:
        history = tx.consent.history(address)
        blocked = tx.consent.suppressions(address)
        sent = tx.messages.for_recipient(address)
    if caller.store_id is not None:
        history = [e for e in history if e.store_id in (caller.store_id, "*")]
        sent = [m for m in sent if m.store_id == caller.store_id]
        if not sent and not any(e.store_id == caller.store_id for e in history):
            raise HTTPException(404, f"no contact {contact_id!r} in store {caller.store_id!r}")
    latest: dict[str, bool | None] = {"sms": None, "email": None}
    for entry in history:
        latest[entry.channel] = entry.granted
    return Contact(
        id=address,
        consent=latest,
        history=[ConsentEntry.model_validate(asdict(entry)) for entry in history],
        suppressed=[
            {"channel": r.channel, "reason": r.reason, "source": r.source, "at": r.created_at}
            for r in blocked
        ],
        messages=len(sent),
    )


def _home(rt: Runtime, caller: Caller) -> StoreConfig:
    """The caller's store, or the first configured one for the admin."""
    found = rt.settings.store(caller.store_id) if caller.store_id else None
    return found or rt.settings.stores[0]


def _address(raw: str, country: str | None) -> str:
    if "@" in raw:
        return normalize_email(raw) or raw
    try:
        phone = normalize_phone(raw, country)
    except InvalidPhone as exc:
        raise HTTPException(
            404, f"{raw!r} is neither an email address nor a phone number ({exc})"
        ) from None
    if phone is None:
        raise HTTPException(404, "give a phone number or an email address")
    return phone
