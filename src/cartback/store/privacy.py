"""The store's side of privacy requests: finding everything about a person, erasing it, and the
audit log of requests (which names no one). Both implementations honour the same contract
(tests/contract/test_privacy.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from cartback.domain.privacy import PrivacyEntry, Subject
from cartback.domain.records import Cart, Delivery, Order, Reply, Touch


class PrivacyRecords(Protocol):
    def carts_of(self, subject: Subject) -> list[Cart]:
        """Carts with one of the subject's emails, phones or customer ids, oldest first."""
        ...

    def orders_of(self, subject: Subject) -> list[Order]:
        """Orders with one of the subject's emails, phones or customer ids, or of their carts."""
        ...

    def touches_of(self, subject: Subject) -> list[Touch]: ...

    def replies_from(self, subject: Subject) -> list[Reply]:
        """Text messages the subject's phones sent us (STOP, START, anything)."""
        ...

    def deliveries_mentioning(self, subject: Subject) -> list[Delivery]:
        """Stored webhook deliveries whose raw body holds one of the subject's emails or
        phones (`Subject.needles`), oldest first."""
        ...

    def erase(self, subject: Subject, recipients: Mapping[str, str]) -> dict[str, int]:
        """Remove or anonymise every record of the subject: their carts' personal fields and
        decisions' texts, their orders' contact fields, their messages' texts (and recipients,
        replaced by `recipients[address]`, else `[erased]`), link targets, click and open user
        agents, their consent ledger entries, suppressions, replies and touches, and the raw
        body of every delivery that mentions them. Rows changed or removed, by table."""
        ...

    def erase_store(self, store_id: str) -> dict[str, int]:
        """The same for every person of one store (a shop that left)."""
        ...

    def log(self, entry: PrivacyEntry) -> None: ...

    def entries(self, store_id: str | None = None) -> list[PrivacyEntry]:
        """The audit log, oldest first."""
        ...
