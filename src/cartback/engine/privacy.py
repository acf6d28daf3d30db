"""Privacy requests, for every platform: export everything about a person, erase it, or erase a
whole store; each erasure leaves an audit entry that names no one.

A person's "no" outlives the erasure: a withdrawal on record, a suppression or a STOP reply is
kept as a suppression of the address's keyed hash (`domain.privacy.erased_address`), which the
policy checks beside the address itself. The key comes from one place (`keys.erase_key`).
All of it runs inside the caller's transaction: only the database is touched.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, fields, is_dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from cartback.domain.emails import normalize_email
from cartback.domain.events import (
    CustomerRedactRequested,
    DataRequested,
    DataSubject,
    ShopRedactRequested,
)
from cartback.domain.phone import InvalidPhone, normalize_phone
from cartback.domain.privacy import PrivacyEntry, Subject, erased_address
from cartback.domain.records import STOP_REPLY, Suppression
from cartback.errors import InvalidRequest
from cartback.store.base import Tx

WITHDRAWN = "erased-withdrawal"  # the reason of a hashed suppression for a withdrawal


class Privacy:
    def __init__(self, key: Callable[[], bytes]) -> None:
        """`key` finds the hashes' key when an erasure needs it (the signing secret may be
        kept in the database, which building a runtime does not read)."""
        self.key = key

    def hashed(self, address: str) -> str:
        return erased_address(self.key(), address)

    def widened(self, tx: Tx, subject: Subject) -> Subject:
        """The subject with the emails and phones their carts carry (a customer id from the
        shop may lead to a checkout with another phone)."""
        carts = tx.privacy.carts_of(subject)
        return replace(
            subject,
            emails=_unique((*subject.emails, *(c.email for c in carts))),
            phones=_unique((*subject.phones, *(c.phone for c in carts))),
            raw_phones=_unique((*subject.raw_phones, *(c.phone_raw for c in carts))),
            customer_ids=_unique((*subject.customer_ids, *(c.customer_external_id for c in carts))),
        )

    def export(self, tx: Tx, subject: Subject, now: datetime) -> dict[str, Any]:
        """Everything stored about the person, as one JSON document."""
        subject = self.widened(tx, subject)
        carts = tx.privacy.carts_of(subject)
        messages = {m.id: m for c in carts for m in tx.messages.for_cart(c.id)}
        for address in subject.addresses:  # a store's export: its own messages only
            sent = tx.messages.for_recipient(address)
            messages.update({m.id: m for m in sent if subject.store_id in (None, m.store_id)})
        document: dict[str, Any] = jsonable(
            {
                "exported_at": now,
                "subject": {
                    "store": subject.store_id,
                    "emails": subject.emails,
                    "phones": subject.phones,
                    "customer_ids": subject.customer_ids,
                },
                "carts": [{**asdict(c), "timeline": tx.decisions.for_cart(c.id)} for c in carts],
                "orders": tx.privacy.orders_of(subject),
                "messages": sorted(messages.values(), key=lambda m: m.created_at),
                "clicks": [click for c in carts for click in tx.messages.clicks_for_cart(c.id)],
                "consent": [
                    e
                    for address in subject.addresses
                    for e in tx.consent.history(address, subject.store_id)
                ],
                "suppressions": [s for a in subject.addresses for s in tx.consent.suppressions(a)],
                "replies": tx.privacy.replies_from(subject),
                "touches": tx.privacy.touches_of(subject),
                "deliveries": [_delivery(d) for d in tx.privacy.deliveries_mentioning(subject)],
            }
        )
        return document

    def erase(
        self,
        tx: Tx,
        subject: Subject,
        now: datetime,
        *,
        source: str,
        request_id: str | None = None,
    ) -> PrivacyEntry:
        """Remove or anonymise the person everywhere; keep their "no" as a keyed hash."""
        subject = self.widened(tx, subject)
        kept = self._refusals(tx, subject, now)
        recipients = {address: self.hashed(address) for address in subject.addresses}
        counts = tx.privacy.erase(subject, recipients)
        for suppression in kept:
            if not tx.consent.is_suppressed(suppression.channel, suppression.address):
                tx.consent.suppress(suppression)
        entry = PrivacyEntry(now, "erase", source, subject.store_id, request_id, counts)
        tx.privacy.log(entry)
        return entry

    def erase_store(self, tx: Tx, store_id: str, now: datetime, *, source: str) -> PrivacyEntry:
        counts = tx.privacy.erase_store(store_id)
        entry = PrivacyEntry(now, "erase_store", source, store_id, None, counts)
        tx.privacy.log(entry)
        return entry

    def _refusals(self, tx: Tx, subject: Subject, now: datetime) -> list[Suppression]:
        """The person's withdrawals, suppressions and STOPs, as suppressions of the hashes."""
        kept: list[Suppression] = []
        channels = [("sms", p) for p in subject.phones] + [("email", e) for e in subject.emails]
        for channel, address in channels:
            hashed = self.hashed(address)
            if channel == "sms" and tx.consent.replied_stop(address):
                kept.append(Suppression("sms", hashed, STOP_REPLY, "erasure", now))
            elif tx.consent.is_suppressed(channel, address) or _withdrew(tx, address, channel):
                kept.append(Suppression(channel, hashed, WITHDRAWN, "erasure", now))
        return kept


def privacy_request(
    tx: Tx,
    privacy: Privacy,
    event: DataRequested | CustomerRedactRequested | ShopRedactRequested,
    now: datetime,
) -> None:
    """A shop's privacy webhook, acted on: a redaction erases; a data request is written to the
    audit log with what was found (the document itself: `cartback contacts export`)."""
    match event:
        case CustomerRedactRequested():
            subject = subject_of(event.store_id, event.subject)
            privacy.erase(tx, subject, now, source="webhook:customers/redact")
        case ShopRedactRequested():
            privacy.erase_store(tx, event.store_id, now, source="webhook:shop/redact")
        case DataRequested():
            document = privacy.export(tx, subject_of(event.store_id, event.subject), now)
            counts = {key: len(value) for key, value in document.items() if isinstance(value, list)}
            entry = PrivacyEntry(
                now,
                "data_request",
                "webhook:customers/data_request",
                event.store_id,
                event.request_id,
                {key: count for key, count in counts.items() if count},
            )
            tx.privacy.log(entry)


def subject_of(store_id: str | None, person: DataSubject) -> Subject:
    """A platform's privacy request as a subject in that store."""
    email = normalize_email(person.email)
    return Subject(
        store_id=store_id,
        emails=_unique((email,)),
        phones=_unique((person.phone,)),
        raw_phones=_unique((person.phone_raw,)),
        customer_ids=_unique((person.customer_external_id,)),
        order_keys=person.order_keys,
    )


def subject_for_contact(contact: str, country: str | None, store_id: str | None = None) -> Subject:
    """An operator's `--phone`/`--email` or an API path's phone number or email address."""
    if "@" in contact:
        email = normalize_email(contact)
        if email is None:
            raise InvalidRequest(f"{contact!r} is not an email address")
        return Subject(store_id, emails=(email,))
    try:
        phone = normalize_phone(contact, country)
    except InvalidPhone as exc:
        raise InvalidRequest(
            f"{contact!r} is neither an email address nor a phone number ({exc})"
        ) from None
    if phone is None:
        raise InvalidRequest("give a phone number or an email address")
    return Subject(store_id, phones=(phone,), raw_phones=(contact.strip(),))


def _withdrew(tx: Tx, address: str, channel: str) -> bool:
    """The latest entry for this address, in any store, withdraws consent."""
    entries = [e for e in tx.consent.history(address) if e.channel == channel]
    return bool(entries) and not entries[-1].granted


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _delivery(delivery: Any) -> dict[str, Any]:
    try:
        body: Any = json.loads(delivery.body)
    except ValueError:
        body = delivery.body.decode("utf-8", errors="replace")
    return {
        "id": delivery.id,
        "platform": delivery.platform,
        "store_id": delivery.store_id,
        "topic": delivery.topic,
        "received_at": delivery.received_at,
        "status": delivery.status,
        "body": body,
    }


def jsonable(value: Any) -> Any:
    """Records, times, amounts and bytes as plain JSON values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value
