"""The consent ledger (the latest entry for an address wins), suppressions, and replies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select
from sqlalchemy.exc import IntegrityError

from cartback.domain.records import STOP_REPLY, ConsentEntry, Reply, Suppression
from cartback.store.sql.common import one_of_params, params
from cartback.store.sql.direct import execute
from cartback.store.tables import consent_ledger, inbound_messages, suppressions
from cartback.store.types import AnyRow

_LEDGER_ORDER = (consent_ledger.c.occurred_at, consent_ledger.c.id)
_ADD = insert(consent_ledger)  # inserted: the keys given


# Asked before every send: built once, the values as parameters.
_LATEST = (
    select(consent_ledger)
    .where(
        consent_ledger.c.store_id == bindparam("store_id"),
        consent_ledger.c.channel == bindparam("channel"),
        consent_ledger.c.address == bindparam("address"),
    )
    .order_by(*(column.desc() for column in _LEDGER_ORDER))
    .limit(1)
)


@cache
def blocked_statement(addresses: int, phones: int) -> Any:
    """Whether any of `addresses` (values `addresses_0`…) is suppressed on the channel, or any
    of `phones` (`phones_0`…) replied STOP: built once per count of each."""
    return (
        select(suppressions.c.id)
        .where(
            or_(
                and_(
                    suppressions.c.channel == bindparam("channel"),
                    one_of_params(suppressions.c.address, "addresses", addresses),
                ),
                and_(
                    suppressions.c.channel == "sms",
                    suppressions.c.reason == STOP_REPLY,
                    one_of_params(suppressions.c.address, "phones", phones),
                ),
            )
        )
        .limit(1)
    )


def blocked_values(addresses: Sequence[str], phones: Sequence[str]) -> dict[str, object]:
    """The parameters of `blocked_statement(len(addresses), len(phones))`."""
    return params("addresses", addresses) | params("phones", phones)


class SqlConsent:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def latest(self, store_id: str, channel: str, address: str) -> ConsentEntry | None:
        values = {"store_id": store_id, "channel": channel, "address": address}
        row = execute(self.conn, _LATEST, values).first()
        return entry_from(row) if row is not None else None

    def add(self, entry: ConsentEntry) -> None:
        values = {
            "store_id": entry.store_id,
            "channel": entry.channel,
            "address": entry.address,
            "granted": entry.granted,
            "customer_external_id": entry.customer_external_id,
            "source": entry.source,
            "detail": entry.detail,
            "occurred_at": entry.occurred_at,
            "recorded_at": entry.recorded_at,
        }
        execute(self.conn, _ADD, values)  # a statement built once: asked for each checkout

    def add_once(self, entry: ConsentEntry) -> bool:
        found = self.conn.execute(
            select(consent_ledger.c.id)
            .where(
                consent_ledger.c.store_id == entry.store_id,
                consent_ledger.c.channel == entry.channel,
                consent_ledger.c.address == entry.address,
                consent_ledger.c.granted == entry.granted,
                consent_ledger.c.source == entry.source,
                consent_ledger.c.occurred_at == entry.occurred_at,
            )
            .limit(1)
        ).first()
        if found is not None:
            return False
        self.add(entry)
        return True

    def history(self, address: str, store_id: str | None = None) -> list[ConsentEntry]:
        query = select(consent_ledger).where(consent_ledger.c.address == address)
        if store_id is not None:
            query = query.where(consent_ledger.c.store_id == store_id)
        return [entry_from(row) for row in self.conn.execute(query.order_by(*_LEDGER_ORDER))]

    def is_suppressed(self, channel: str, address: str) -> bool:
        found = self.conn.execute(
            select(suppressions.c.id).where(
                suppressions.c.channel == channel, suppressions.c.address == address
            )
        ).first()
        return found is not None

    def replied_stop(self, phone: str) -> bool:
        found = self.conn.execute(
            select(suppressions.c.id).where(
                suppressions.c.channel == "sms",
                suppressions.c.address == phone,
                suppressions.c.reason == STOP_REPLY,
            )
        ).first()
        return found is not None

    def blocked(self, channel: str, addresses: Sequence[str], stop_phones: Sequence[str]) -> bool:
        statement = blocked_statement(len(addresses), len(stop_phones))
        values = {"channel": channel} | blocked_values(addresses, stop_phones)
        return self.conn.execute(statement, values).first() is not None

    def suppress(self, suppression: Suppression) -> None:
        if self.is_suppressed(suppression.channel, suppression.address):
            return
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(suppressions).values(
                        channel=suppression.channel,
                        address=suppression.address,
                        reason=suppression.reason,
                        source=suppression.source,
                        created_at=suppression.created_at,
                    )
                )
        except IntegrityError:
            pass  # suppressed concurrently: the outcome is the same

    def unsuppress(self, channel: str, address: str) -> None:
        self.conn.execute(
            delete(suppressions).where(
                suppressions.c.channel == channel, suppressions.c.address == address
            )
        )

    def suppressions(self, address: str) -> list[Suppression]:
        rows = self.conn.execute(
            select(suppressions)
            .where(suppressions.c.address == address)
            .order_by(suppressions.c.id)
        )
        return [Suppression(r.channel, r.address, r.reason, r.source, r.created_at) for r in rows]

    def add_reply(self, reply: Reply, action: str, now: datetime) -> bool:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(inbound_messages).values(
                        provider=reply.provider,
                        provider_id=reply.provider_id,
                        sender=reply.sender,
                        recipient=reply.recipient,
                        text=reply.text,
                        received_at=reply.received_at,
                        recorded_at=now,
                        action=action,
                    )
                )
        except IntegrityError:
            return False
        return True


def entry_from(row: AnyRow) -> ConsentEntry:
    return ConsentEntry(
        store_id=row.store_id,
        channel=row.channel,
        address=row.address,
        granted=row.granted,
        source=row.source,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        customer_external_id=row.customer_external_id,
        detail=row.detail,
        id=row.id,
    )
