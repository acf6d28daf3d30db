"""Shopify's marketing consent records, as entries in cartback's consent ledger.

A customer's `sms_marketing_consent` / `email_marketing_consent` (older checkout payloads, the
`customers_marketing_consent/update` and `customers_email_marketing_consent/update` webhooks) and
`smsMarketingConsent` / `emailMarketingConsent` (the GraphQL Admin API) carry a state and the time
it was set. Each becomes at most one ledger entry, and the latest entry for an address still wins:

| state            | `consent_updated_at` given | absent                     |
|------------------|----------------------------|----------------------------|
| `subscribed`     | grant at that time         | grant at the payload time  |
| `unsubscribed`   | withdraw at that time      | withdraw at the payload time |
| `redacted`       | withdraw at that time      | withdraw at the payload time |
| `invalid` (email)| withdraw at that time      | withdraw at the payload time |
| `not_subscribed` | "no consent" at that time  | no entry                   |
| `pending`        | "no consent" at that time  | no entry                   |
| anything else    | withdraw at that time      | withdraw at the payload time |

Why `not_subscribed` and `pending` are not withdrawals: Shopify defines `not_subscribed` as the
default state of a customer who never subscribed on that channel (read-only, never set by a
merchant) and `unsubscribed` as "was previously subscribed"; a withdrawal is always
`unsubscribed`. `pending` is a double opt-in the customer has not confirmed. Neither grants, and
an undated one is only the default state: it must not erase consent given elsewhere (a ticked
checkout box, an imported list). Shopify gives no date when the customer never changed their
consent on that channel, so a *dated* `not_subscribed` or `pending` is a real change on
Shopify's record: it is recorded as "no consent" at that time (`granted=False`), so that a grant
from before it does not silently survive, while a grant after it still wins.

An unknown state (one Shopify adds later) withdraws: not sending is the safe mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cartback.domain.events import Channel, ConsentChanged
from cartback.domain.phone import InvalidPhone, normalize_phone
from cartback.integrations._json import JsonObject

SUBSCRIBED = "subscribed"
SILENT_WHEN_UNDATED = frozenset({"not_subscribed", "pending"})


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    granted: bool
    occurred_at: datetime


def ledger_entry(state: str, updated_at: datetime | None, fallback: datetime) -> LedgerEntry | None:
    """The ledger entry for one Shopify consent state (webhook `subscribed` or Admin API
    `SUBSCRIBED` alike), or None when the state says nothing. See the table above."""
    normalised = state.strip().lower()
    if normalised == SUBSCRIBED:
        return LedgerEntry(True, updated_at or fallback)
    if normalised in SILENT_WHEN_UNDATED:
        return LedgerEntry(False, updated_at) if updated_at is not None else None
    return LedgerEntry(False, updated_at or fallback)


@dataclass(frozen=True, slots=True)
class ConsentContext:
    """Where a consent record was read: the store, the ledger source, the payload's own time."""

    store_id: str
    source: str  # e.g. "shopify:checkouts/update"
    fallback: datetime


def sms_consent(
    consent: JsonObject, phone: str | None, customer_id: str | None, ctx: ConsentContext
) -> ConsentChanged | None:
    """`sms_marketing_consent` {state, opt_in_level, consent_updated_at, consent_collected_from}
    for the customer's (normalised) phone."""
    extras = ("opt_in_level", "consent_collected_from")
    return _event(Channel.SMS, consent, extras, customer_id, ctx, phone=phone)


def email_consent(
    consent: JsonObject, email: str | None, customer_id: str | None, ctx: ConsentContext
) -> ConsentChanged | None:
    """`email_marketing_consent` {state, opt_in_level, consent_updated_at} for the customer's
    email address."""
    return _event(Channel.EMAIL, consent, ("opt_in_level",), customer_id, ctx, email=email)


def legacy_email_consent(
    customer: JsonObject, email: str | None, customer_id: str | None, ctx: ConsentContext
) -> ConsentChanged | None:
    """The customer's `accepts_marketing` of payloads older than `email_marketing_consent`: true
    grants at `accepts_marketing_updated_at`; false cannot tell "never" from "withdrew", so it
    says nothing."""
    if customer.flag("accepts_marketing") is not True:
        return None
    return ConsentChanged(
        store_id=ctx.store_id,
        channel=Channel.EMAIL,
        granted=True,
        occurred_at=customer.timestamp("accepts_marketing_updated_at") or ctx.fallback,
        source=ctx.source,
        email=email,
        customer_external_id=customer_id,
        detail="customer.accepts_marketing=true",
    )


def customer_phone(raw: str | None, country: str | None) -> str | None:
    """A customer's phone in E.164, or None when there is none or it is not a valid number."""
    if raw is None:
        return None
    try:
        return normalize_phone(raw, country)
    except InvalidPhone:
        return None


def _event(
    channel: Channel,
    consent: JsonObject,
    extras: tuple[str, ...],
    customer_id: str | None,
    ctx: ConsentContext,
    *,
    phone: str | None = None,
    email: str | None = None,
) -> ConsentChanged | None:
    state = consent.require_text("state")
    entry = ledger_entry(state, consent.timestamp("consent_updated_at"), ctx.fallback)
    if entry is None:
        return None
    return ConsentChanged(
        store_id=ctx.store_id,
        channel=channel,
        granted=entry.granted,
        occurred_at=entry.occurred_at,
        source=ctx.source,
        phone=phone,
        email=email,
        customer_external_id=customer_id,
        detail=_detail(consent, extras),
    )


def _detail(consent: JsonObject, extras: tuple[str, ...]) -> str:
    state = consent.require_text("state")
    name = consent.path.rsplit(".", 1)[-1]
    known = [f"{key}={consent.text(key)}" for key in extras if consent.text(key) is not None]
    suffix = f" ({', '.join(known)})" if known else ""
    return f"{name}.state={state}{suffix}"
