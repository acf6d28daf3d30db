"""Consent given outside cartback (a signup form, a till, another system), as the API and a
consent file hand it in: the record, and the address it is kept under."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cartback.domain.emails import InvalidEmail, require_email
from cartback.domain.phone import InvalidPhone, require_phone
from cartback.domain.records import ConsentEntry


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    store_id: str
    channel: str  # sms | email
    address: str  # E.164 or lower-cased email
    granted: bool
    occurred_at: datetime
    wording: str

    def entry(self, source: str, now: datetime) -> ConsentEntry:
        """The ledger entry of this record, recorded `now` from `source`."""
        return ConsentEntry(
            store_id=self.store_id,
            channel=self.channel,
            address=self.address,
            granted=self.granted,
            source=source,
            occurred_at=self.occurred_at,
            recorded_at=now,
            detail=self.wording,
        )


def address_for(channel: str, phone: str | None, email: str | None, country: str | None) -> str:
    """The address a channel's consent or message is kept under: E.164 for sms, the normalised
    email for email. ValueError naming the field when it is unusable (never repeating it)."""
    if channel == "email":
        try:
            return require_email(email)
        except InvalidEmail as exc:
            raise ValueError(f"email: {exc}") from None
    if channel != "sms":
        raise ValueError(f"channel: {channel!r} is not sms or email")
    try:
        return require_phone(phone, country)
    except InvalidPhone as exc:
        raise ValueError(f"phone: {exc}") from None
