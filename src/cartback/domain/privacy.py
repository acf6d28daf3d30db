"""A person's data on request: who they are to the store, the keyed hash that outlives them, and
the audit entry an erasure leaves (which names no one).

Erasing removes or anonymises every record of a person, raw deliveries and message texts
included. What must survive is their "no": a withdrawal or a STOP is kept as a suppression of
`erased_address(key, address)`, a keyed hash that cannot be turned back into the address but
matches it again when the same number or email comes back.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

ERASED = "[erased]"  # what stands in a text column where personal data was
ERASED_PREFIX = "erased:"
ERASED_BODY = b'{"erased": true}'  # a raw delivery that mentioned an erased person
# What an erasure clears on a cart (and its customer tags), and on an order.
CART_PERSONAL = (
    "email",
    "phone",
    "phone_raw",
    "first_name",
    "last_name",
    "customer_external_id",
    "recovery_url",
)
ORDER_PERSONAL = ("email", "phone", "customer_external_id")


@dataclass(frozen=True, slots=True)
class Subject:
    """The person a request is about, as far as the store can know them. `store_id` None:
    every store (an operator's erase); else only that store's records (a shop's request)."""

    store_id: str | None
    emails: tuple[str, ...] = ()  # normalised
    phones: tuple[str, ...] = ()  # E.164
    raw_phones: tuple[str, ...] = ()  # as a shop wrote them, for raw deliveries
    customer_ids: tuple[str, ...] = ()
    order_keys: tuple[str, ...] = ()  # the shop's order ids (Shopify's `orders_to_redact`)

    @property
    def addresses(self) -> tuple[str, ...]:
        return (*self.phones, *self.emails)

    @property
    def needles(self) -> tuple[str, ...]:
        """Every text that identifies the person in a raw delivery or a free text."""
        found = dict.fromkeys((*self.emails, *self.phones, *self.raw_phones))
        return tuple(needle for needle in found if needle and len(needle) >= MIN_NEEDLE)

    @property
    def empty(self) -> bool:
        given = (self.emails, self.phones, self.raw_phones, self.customer_ids, self.order_keys)
        return not any(given)


MIN_NEEDLE = 5  # shorter texts would match unrelated data


@dataclass(frozen=True, slots=True)
class PrivacyEntry:
    """The audit log of privacy requests: what was done and how much, never to whom."""

    at: datetime
    action: str  # erase | erase_store | data_request
    source: str  # e.g. shopify:customers/redact, cli, api
    store_id: str | None = None
    request_id: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)  # rows changed, by table
    id: int = 0


def erased_address(key: bytes, address: str) -> str:
    """`erased:` and a keyed SHA-256 of the address: the same address always gives the same
    text, and without the key nobody can tell which address it was."""
    digest = hmac.new(key, address.strip().lower().encode(), hashlib.sha256).hexdigest()
    return f"{ERASED_PREFIX}{digest[:40]}"
