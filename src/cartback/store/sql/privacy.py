"""Privacy requests in SQL: everything about a person, erasing it, the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Connection,
    Delete,
    Table,
    Update,
    and_,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.types import LargeBinary

from cartback.domain.privacy import (
    CART_PERSONAL,
    ERASED,
    ERASED_BODY,
    ORDER_PERSONAL,
    PrivacyEntry,
    Subject,
)
from cartback.domain.records import Cart, Delivery, Order, Reply, Touch
from cartback.store.sql.carts import cart_from
from cartback.store.sql.deliveries import delivery_from
from cartback.store.sql.orders import order_from
from cartback.store.tables import (
    carts,
    clicks,
    consent_ledger,
    decisions,
    deliveries,
    inbound_messages,
    links,
    message_attempts,
    messages,
    opens,
    orders,
    privacy_log,
    suppressions,
    touches,
)
from cartback.store.types import AnyRow

_CART_PERSONAL = {**dict.fromkeys(CART_PERSONAL), "customer_tags": None}
_ORDER_PERSONAL = dict.fromkeys(ORDER_PERSONAL)


@dataclass(frozen=True)
class _Scope:
    """Which rows an erasure reaches, table by table (None: none of that table's)."""

    carts: ColumnElement[bool]
    orders: ColumnElement[bool]
    messages: ColumnElement[bool]
    ledger: ColumnElement[bool]
    deliveries: ColumnElement[bool]
    suppressions: ColumnElement[bool] | None = None
    replies: ColumnElement[bool] | None = None
    touches: ColumnElement[bool] | None = None
    needles: tuple[str, ...] = ()


class SqlPrivacy:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # finding -------------------------------------------------------------------------------

    def carts_of(self, subject: Subject) -> list[Cart]:
        rows = self.conn.execute(select(carts).where(_carts(subject)).order_by(carts.c.id))
        return [cart_from(row) for row in rows]

    def orders_of(self, subject: Subject) -> list[Order]:
        found = self.conn.execute(select(orders).where(self._orders(subject)).order_by(orders.c.id))
        return [order_from(row) for row in found]

    def touches_of(self, subject: Subject) -> list[Touch]:
        if not subject.addresses:
            return []
        rows = self.conn.execute(
            select(touches)
            .where(touches.c.address.in_(subject.addresses))
            .order_by(touches.c.sent_at)
        )
        return [Touch(r.address, r.channel, r.sent_at, r.source) for r in rows]

    def replies_from(self, subject: Subject) -> list[Reply]:
        if not subject.phones:
            return []
        rows = self.conn.execute(
            select(inbound_messages)
            .where(inbound_messages.c.sender.in_(subject.phones))
            .order_by(inbound_messages.c.received_at)
        )
        return [_reply(row) for row in rows]

    def deliveries_mentioning(self, subject: Subject) -> list[Delivery]:
        query = select(deliveries).where(
            _mentioning(subject, self.conn.dialect.name), _in_store(deliveries, subject)
        )
        return [delivery_from(row) for row in self.conn.execute(query.order_by(deliveries.c.id))]

    # erasing -------------------------------------------------------------------------------

    def erase(self, subject: Subject, recipients: Mapping[str, str]) -> dict[str, int]:
        if subject.empty:
            return {}
        addresses = subject.addresses
        scope = _Scope(
            carts=_carts(subject),
            orders=self._orders(subject),
            messages=and_(messages.c.recipient.in_(addresses), _in_store(messages, subject)),
            ledger=and_(
                or_(
                    consent_ledger.c.address.in_(addresses),
                    consent_ledger.c.customer_external_id.in_(subject.customer_ids),
                ),
                _in_store(consent_ledger, subject),
            ),
            deliveries=and_(
                _mentioning(subject, self.conn.dialect.name), _in_store(deliveries, subject)
            ),
            suppressions=suppressions.c.address.in_(addresses),
            replies=inbound_messages.c.sender.in_(subject.phones),
            touches=touches.c.address.in_(addresses),
            needles=subject.needles,
        )
        return self._erase(scope, recipients)

    def erase_store(self, store_id: str) -> dict[str, int]:
        scope = _Scope(
            carts=carts.c.store_id == store_id,
            orders=orders.c.store_id == store_id,
            messages=messages.c.store_id == store_id,
            ledger=consent_ledger.c.store_id == store_id,
            deliveries=deliveries.c.store_id == store_id,
        )
        return self._erase(scope, {})

    def _erase(self, scope: _Scope, recipients: Mapping[str, str]) -> dict[str, int]:
        conn, counts = self.conn, {}
        cart_ids = list(conn.scalars(select(carts.c.id).where(scope.carts)))
        of_carts = messages.c.cart_id.in_(cart_ids)
        found = conn.execute(
            select(messages.c.id, messages.c.recipient).where(or_(scope.messages, of_carts))
        ).all()
        message_ids = [row.id for row in found]
        for recipient in {row.recipient for row in found}:
            conn.execute(
                update(messages)
                .where(messages.c.id.in_(message_ids), messages.c.recipient == recipient)
                .values(recipient=recipients.get(recipient, ERASED))
            )
        counts["messages"] = _changed(
            conn,
            update(messages).where(messages.c.id.in_(message_ids)).values(body=ERASED, error=None),
        )
        conn.execute(
            update(message_attempts)
            .where(message_attempts.c.message_id.in_(message_ids))
            .values(error=None)
        )
        counts["links"] = _changed(
            conn,
            update(links)
            .where(or_(links.c.message_id.in_(message_ids), links.c.cart_id.in_(cart_ids)))
            .values(target_url=ERASED),
        )
        for name, table in (("clicks", clicks), ("opens", opens)):
            counts[name] = _changed(
                conn,
                update(table)
                .where(or_(table.c.message_id.in_(message_ids), table.c.cart_id.in_(cart_ids)))
                .values(user_agent=None),
            )
        detail: ColumnElement[str] = decisions.c.detail
        for needle in scope.needles:
            detail = func.replace(detail, needle, ERASED)
        if scope.needles:
            conn.execute(
                update(decisions).where(decisions.c.cart_id.in_(cart_ids)).values(detail=detail)
            )
        counts["orders"] = _changed(
            conn,
            update(orders)
            .where(or_(scope.orders, orders.c.cart_id.in_(cart_ids)))
            .values(**_ORDER_PERSONAL),
        )
        counts["carts"] = _changed(
            conn, update(carts).where(carts.c.id.in_(cart_ids)).values(**_CART_PERSONAL)
        )
        counts["consent_ledger"] = _changed(conn, delete(consent_ledger).where(scope.ledger))
        for name, table, where in (
            ("suppressions", suppressions, scope.suppressions),
            ("inbound_messages", inbound_messages, scope.replies),
            ("touches", touches, scope.touches),
        ):
            if where is not None:
                counts[name] = _changed(conn, delete(table).where(where))
        counts["deliveries"] = _changed(
            conn,
            update(deliveries).where(scope.deliveries).values(body=ERASED_BODY, error=None),
        )
        return {name: count for name, count in counts.items() if count}

    def _mentioning(self, subject: Subject) -> ColumnElement[bool]:
        return and_(_mentioning(subject, self.conn.dialect.name), _in_store(deliveries, subject))

    def _orders(self, subject: Subject) -> ColumnElement[bool]:
        match = _person(orders, subject)
        if subject.order_keys:
            match = or_(match, orders.c.order_key.in_(subject.order_keys))
        of_carts = orders.c.cart_id.in_(select(carts.c.id).where(_carts(subject)))
        return and_(or_(match, of_carts), _in_store(orders, subject))

    # the audit log -------------------------------------------------------------------------

    def log(self, entry: PrivacyEntry) -> None:
        self.conn.execute(
            insert(privacy_log).values(
                at=entry.at,
                action=entry.action,
                source=entry.source,
                store_id=entry.store_id,
                request_id=entry.request_id,
                counts=dict(entry.counts),
            )
        )

    def entries(self, store_id: str | None = None) -> list[PrivacyEntry]:
        query = select(privacy_log).order_by(privacy_log.c.at, privacy_log.c.id)
        if store_id is not None:
            query = query.where(privacy_log.c.store_id == store_id)
        return [
            PrivacyEntry(
                at=row.at,
                action=row.action,
                source=row.source,
                store_id=row.store_id,
                request_id=row.request_id,
                counts=dict(row.counts),
                id=row.id,
            )
            for row in self.conn.execute(query)
        ]


def _person(table: Table, subject: Subject) -> ColumnElement[bool]:
    """Rows with one of the subject's emails, phones or customer ids (never none of them)."""
    columns = table.c
    found = [
        columns.email.in_(subject.emails) if subject.emails else None,
        columns.phone.in_(subject.phones) if subject.phones else None,
        columns.customer_external_id.in_(subject.customer_ids) if subject.customer_ids else None,
    ]
    present = [condition for condition in found if condition is not None]
    return or_(*present) if present else false()


def _carts(subject: Subject) -> ColumnElement[bool]:
    match = _person(carts, subject)
    if subject.raw_phones:
        match = or_(match, carts.c.phone_raw.in_(subject.raw_phones))
    return and_(match, _in_store(carts, subject))


def _in_store(table: Table, subject: Subject) -> ColumnElement[bool]:
    if subject.store_id is None:
        return true()
    return table.c.store_id == subject.store_id


def _mentioning(subject: Subject, dialect: str) -> ColumnElement[bool]:
    """Raw bodies holding one of the subject's needles: `instr` on SQLite's blobs, `LIKE` on
    PostgreSQL's bytea."""
    needles = subject.needles
    if not needles:
        return false()
    body = deliveries.c.body
    found: list[ColumnElement[bool]]
    if dialect == "postgresql":
        found = [body.op("LIKE")(literal(f"%{n}%".encode(), LargeBinary)) for n in needles]
    else:
        found = [func.instr(body, literal(n.encode(), LargeBinary)) > 0 for n in needles]
    return or_(*found)


def _changed(conn: Connection, statement: Update | Delete) -> int:
    return int(conn.execute(statement).rowcount or 0)


def _reply(row: AnyRow) -> Reply:
    return Reply(
        provider=row.provider,
        provider_id=row.provider_id,
        sender=row.sender,
        text=row.text,
        received_at=row.received_at,
        recipient=row.recipient,
    )
