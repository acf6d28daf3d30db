"""Consent given elsewhere (a signup form, a till, another system): through the API or a CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from cartback.domain.phone import InvalidPhone, normalize_phone

COLUMNS = ("store", "phone", "email", "channel", "granted", "occurred_at", "wording")
_YES = {"yes", "true", "1", "granted"}
_NO = {"no", "false", "0", "withdrawn", "revoked"}


class ConsentFileError(ValueError):
    """A consent file that cannot be read; each problem names its line and column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:20]) + (" …" if len(problems) > 20 else ""))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    store_id: str
    channel: str  # sms | email
    address: str  # E.164 or lower-cased email
    granted: bool
    occurred_at: datetime
    wording: str

    def ledger_values(self, source: str, now: datetime) -> dict[str, object]:
        return {
            "store_id": self.store_id,
            "channel": self.channel,
            "address": self.address,
            "granted": self.granted,
            "source": source,
            "detail": self.wording,
            "occurred_at": self.occurred_at,
            "recorded_at": now,
        }


def address_for(channel: str, phone: str | None, email: str | None, country: str | None) -> str:
    """The address consent is recorded under; ValueError naming the field when unusable."""
    if channel == "email":
        if not email or "@" not in email:
            raise ValueError("email: an email consent needs an email address")
        return email.strip().lower()
    if channel != "sms":
        raise ValueError(f"channel: {channel!r} is not sms or email")
    try:
        e164 = normalize_phone(phone, country)
    except InvalidPhone as exc:
        raise ValueError(f"phone: {exc}") from None
    if e164 is None:
        raise ValueError("phone: an sms consent needs a phone number")
    return e164


def read_consent_csv(text: str, stores: dict[str, str | None]) -> list[ConsentRecord]:
    """Rows of `store,phone,email,channel,granted,occurred_at,wording`; `stores` maps each known
    store id to its default country (for numbers written without +CC)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ConsentFileError([f"line 1: missing columns {', '.join(missing)}"])
    records, problems = [], []
    for line, row in enumerate(reader, start=2):
        try:
            records.append(_record(row, stores))
        except ValueError as exc:
            problems.append(f"line {line}, column {exc}")
    if problems:
        raise ConsentFileError(problems)
    return records


def _record(row: dict[str, str], stores: dict[str, str | None]) -> ConsentRecord:
    store = (row.get("store") or "").strip()
    if store not in stores:
        raise ValueError(f"store: {store!r} is not configured")
    channel = (row.get("channel") or "").strip().lower()
    address = address_for(channel, row.get("phone"), row.get("email"), stores[store])
    answer = (row.get("granted") or "").strip().lower()
    if answer not in _YES | _NO:
        raise ValueError(f"granted: {answer!r} is not yes or no")
    try:
        when = datetime.fromisoformat((row.get("occurred_at") or "").strip())
    except ValueError:
        raise ValueError("occurred_at: not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise ValueError("occurred_at: needs a UTC offset, e.g. 2026-11-29T10:00:00+01:00")
    wording = (row.get("wording") or "").strip()
    if not wording:
        raise ValueError("wording: the words the person agreed to are required")
    return ConsentRecord(store, channel, address, answer in _YES, when, wording)
