"""Messages, their send attempts, their short links and the clicks on them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from functools import cache
from typing import Any, Unpack

from sqlalchemy import Connection, String, bindparam, func, insert, or_, select, update

from cartback.domain.records import (
    MESSAGE_OUT,
    Click,
    Link,
    Message,
    MessageStatus,
    MessageTouch,
    SendAttempt,
)
from cartback.store.base import MessageChanges
from cartback.store.sent import Onward
from cartback.store.sql.common import among, paged
from cartback.store.sql.decisions import DECISION_ARRAYS, SqlDecisions, arrays_values
from cartback.store.sql.direct import execute
from cartback.store.sql.runs import onward_columns, owned_update, owned_values
from cartback.store.tables import clicks, links, message_attempts, messages
from cartback.store.types import AnyRow

_OUT = [str(status) for status in MESSAGE_OUT]
_ON_ITS_WAY = [str(MessageStatus.QUEUED), *_OUT]

# Asked before every send: built once, the values given as parameters.
_BY_ID = select(messages).where(messages.c.id == bindparam("id"))
_UPDATE = update(messages).where(messages.c.id == bindparam("message_id"))  # set: the keys given
_COUNT_ATTEMPT = _UPDATE.values(attempts=messages.c.attempts + 1)
# The attempt's columns, each given as `attempt_<name>`: apart from any column of messages, so
# that the message's UPDATE beside it sets only its own values (see `_add_and_count`).
_ATTEMPT_COLUMNS = [column.name for column in message_attempts.c if column.name != "id"]
_ADD_ATTEMPT = insert(message_attempts).values(
    {name: bindparam(f"attempt_{name}") for name in _ATTEMPT_COLUMNS}
)
# A short link's columns, each given as `link_<name>` (apart from the message's own values).
_LINK_COLUMNS = [column.name for column in links.c]
_ADD_LINK = insert(links).values({name: bindparam(f"link_{name}") for name in _LINK_COLUMNS})
# PostgreSQL: a message and its link in one statement (the message's INSERT as a WITH), and
# with the decisions held in the transaction's batch (the send's own among them) as arrays
# (`DECISION_ARRAYS`). The message's values are given as `message_<column>`: a key that is a
# column of the decisions' table (`id`) would be asked of their INSERT too.
_ADD_WITH_LINK = _ADD_LINK.add_cte(
    insert(messages)
    .values({c.name: bindparam(f"message_{c.name}") for c in messages.c})
    .cte("added")
)
_ADD_WITH_LINK_AND_DECISIONS = _ADD_WITH_LINK.add_cte(DECISION_ARRAYS.cte("decided"))


_FOR_STEP = select(messages).where(
    messages.c.run_id == bindparam("run_id"), messages.c.step_index == bindparam("step_index")
)
_SMS_IN_RUN = select(func.count()).where(
    messages.c.run_id == bindparam("run_id"),
    among(messages.c.channel, ("sms", "rcs")),
    among(messages.c.status, _ON_ITS_WAY),
)
_ANY_FOR_RUN = select(messages.c.id).where(messages.c.run_id == bindparam("run_id")).limit(1)
_LAST_TO = select(func.max(messages.c.created_at)).where(
    messages.c.recipient == bindparam("recipient"), among(messages.c.status, _ON_ITS_WAY)
)
# Messages not of this run, a message without a run among them (SQL's `!=` alone says NULL).
_LAST_TO_FROM_OTHERS = _LAST_TO.where(
    or_(messages.c.run_id.is_(None), messages.c.run_id != bindparam("run_id"))
)
_LOCK = select(
    func.pg_advisory_xact_lock(func.hashtextextended(bindparam("recipient", type_=String), 0))
)


class SqlMessages:
    def __init__(self, conn: Connection, decisions: SqlDecisions | None = None) -> None:
        """`decisions`: the same transaction's, whose held decisions a message's INSERT may
        write beside it (PostgreSQL)."""
        self.conn = conn
        self.decisions = decisions

    def get(self, message_id: str) -> Message | None:
        return self._one(_BY_ID, {"id": message_id})

    def add(self, message: Message, link: Link | None = None) -> None:
        values = {
            "id": message.id,
            "store_id": message.store_id,
            "cart_id": message.cart_id,
            "run_id": message.run_id,
            "flow_id": message.flow_id,
            "step_index": message.step_index,
            "channel": message.channel,
            "provider": message.provider,
            "recipient": message.recipient,
            "sender": message.sender,
            "body": message.body,
            "encoding": message.encoding,
            "segments": message.segments,
            "cost": message.cost,
            "currency": message.currency,
            "link_code": message.link_code,
            "discount_code": message.discount_code,
            "discount_pending": message.discount_pending,
            "status": str(message.status),
            "provider_message_id": message.provider_message_id,
            "provider_segments": message.provider_segments,
            "channel_used": message.channel_used,
            "attempts": message.attempts,
            "error_code": message.error_code,
            "error": message.error,
            "created_at": message.created_at,
            "sent_at": message.sent_at,
            "status_at": message.status_at,
            "experiment_id": message.experiment_id,
            "arm": message.arm,
        }
        if link is None:
            self.conn.execute(insert(messages), values)  # one cached statement, values apart
            return
        linked = _linked(link)
        if self.conn.dialect.name == "postgresql":  # the message and its link in one round trip
            given = {f"message_{name}": value for name, value in values.items()} | linked
            held = self.decisions.take_held() if self.decisions is not None else []
            if held:  # and the decisions held in the batch (the send's own), in the same one
                execute(self.conn, _ADD_WITH_LINK_AND_DECISIONS, given | arrays_values(held))
            else:
                execute(self.conn, _ADD_WITH_LINK, given)
            return
        self.conn.execute(insert(messages), values)
        self.conn.execute(_ADD_LINK, linked)

    def update(self, message_id: str, **changes: Unpack[MessageChanges]) -> None:
        execute(self.conn, _UPDATE, {"message_id": message_id} | _stored(changes))

    def for_step(self, run_id: int, step_index: int) -> Message | None:
        row = execute(self.conn, _FOR_STEP, {"run_id": run_id, "step_index": step_index}).first()
        return message_from(row) if row is not None else None

    def for_cart(self, cart_id: int) -> list[Message]:
        query = select(messages).where(messages.c.cart_id == cart_id)
        return self._all(query.order_by(messages.c.created_at, messages.c.id))

    def by_provider_id(self, provider: str, provider_message_id: str) -> Message | None:
        return self._one(
            select(messages).where(
                messages.c.provider == provider,
                messages.c.provider_message_id == provider_message_id,
            )
        )

    def any_for_run(self, run_id: int) -> bool:
        return self.conn.execute(_ANY_FOR_RUN, {"run_id": run_id}).first() is not None

    def sms_in_run(self, run_id: int) -> int:
        return int(self.conn.execute(_SMS_IN_RUN, {"run_id": run_id}).scalar_one())

    def last_to_recipient(self, recipient: str, *, exclude_run: int | None) -> datetime | None:
        # Queued messages count: they are on their way, and a racing worker must see them.
        if exclude_run is None:
            latest: datetime | None = self.conn.execute(_LAST_TO, {"recipient": recipient}).scalar()
            return latest
        values = {"recipient": recipient, "run_id": exclude_run}
        latest = self.conn.execute(_LAST_TO_FROM_OTHERS, values).scalar()
        return latest

    def lock_recipient(self, recipient: str) -> None:
        """PostgreSQL: a transaction-scoped advisory lock per address. SQLite: the write
        transaction already holds the database's only write lock."""
        if self.conn.dialect.name == "postgresql":
            execute(self.conn, _LOCK, {"recipient": recipient})

    def touches(self, cart_id: int) -> list[MessageTouch]:
        last_click = (
            select(clicks.c.message_id, func.max(clicks.c.at).label("clicked_at"))
            .where(clicks.c.cart_id == cart_id, clicks.c.bot.is_(False))
            .group_by(clicks.c.message_id)
            .subquery()
        )
        rows = self.conn.execute(
            select(messages.c.id, messages.c.sent_at, last_click.c.clicked_at)
            .select_from(messages.outerjoin(last_click, last_click.c.message_id == messages.c.id))
            .where(messages.c.cart_id == cart_id, messages.c.status.in_(_OUT))
        )
        return [MessageTouch(r.id, r.sent_at, r.clicked_at) for r in rows if r.sent_at is not None]

    def add_attempt(self, attempt: SendAttempt, **changes: Unpack[MessageChanges]) -> None:
        values = _attempt_values(attempt)
        counted = {"message_id": attempt.message_id, **_stored(changes)}
        if self.conn.dialect.name == "postgresql":  # one round trip for the row and the message
            execute(self.conn, _add_and_count(frozenset(changes)), values | counted)
            return
        self.conn.execute(_ADD_ATTEMPT, values)
        self.conn.execute(_COUNT_ATTEMPT, counted)

    def attempts(self, message_id: str) -> list[SendAttempt]:
        rows = self.conn.execute(
            select(message_attempts)
            .where(message_attempts.c.message_id == message_id)
            .order_by(message_attempts.c.number)
        )
        return [
            SendAttempt(
                r.message_id,
                r.number,
                r.started_at,
                r.duration_ms,
                r.outcome,
                r.http_status,
                r.error,
            )
            for r in rows
        ]

    def add_link(self, link: Link) -> None:
        self.conn.execute(_ADD_LINK, _linked(link))

    def link(self, code: str) -> Link | None:
        row = self.conn.execute(select(links).where(links.c.code == code)).first()
        if row is None:
            return None
        return Link(row.code, row.message_id, row.cart_id, row.target_url, row.created_at)

    def retarget_link(self, code: str, target_url: str) -> None:
        self.conn.execute(update(links).where(links.c.code == code).values(target_url=target_url))

    def add_click(self, click: Click) -> None:
        self.conn.execute(
            insert(clicks).values(
                code=click.code,
                message_id=click.message_id,
                cart_id=click.cart_id,
                at=click.at,
                user_agent=(click.user_agent or "")[:300] or None,
                bot=click.bot,
                bot_reason=click.bot_reason,
                agent_class=click.agent_class,
            )
        )

    def clicks_for_cart(self, cart_id: int) -> list[Click]:
        rows = self.conn.execute(
            select(clicks).where(clicks.c.cart_id == cart_id).order_by(clicks.c.at, clicks.c.id)
        )
        return [
            Click(
                r.code,
                r.message_id,
                r.cart_id,
                r.at,
                r.user_agent,
                r.id,
                r.bot_reason,
                r.agent_class,
            )
            for r in rows
        ]

    def for_recipient(self, recipient: str) -> list[Message]:
        query = select(messages).where(messages.c.recipient == recipient)
        return self._all(query.order_by(messages.c.created_at, messages.c.id))

    def click_counts(self, message_ids: Collection[str]) -> dict[str, int]:
        if not message_ids:
            return {}
        query = (
            select(clicks.c.message_id, func.count())
            .where(clicks.c.message_id.in_(list(message_ids)), clicks.c.bot.is_(False))
            .group_by(clicks.c.message_id)
        )
        return {message_id: int(count) for message_id, count in self.conn.execute(query)}

    def page(
        self,
        *,
        store_id: str | None,
        status: str | None,
        limit: int,
        offset: int,
        after: str | None = None,
    ) -> list[Message]:
        query = paged(
            select(messages),
            messages,
            "created_at",
            store_id=store_id,
            status=status,
            limit=limit,
            offset=offset,
            after=after,
        )
        return self._all(query)

    def _one(self, query: Any, values: dict[str, Any] | None = None) -> Message | None:
        row = self.conn.execute(query, values).first()
        return message_from(row) if row is not None else None

    def _all(self, query: Any) -> list[Message]:
        return [message_from(row) for row in self.conn.execute(query)]


def message_from(row: AnyRow) -> Message:
    return Message(
        id=row.id,
        store_id=row.store_id,
        cart_id=row.cart_id,
        channel=row.channel,
        provider=row.provider,
        recipient=row.recipient,
        body=row.body,
        cost=row.cost,
        currency=row.currency,
        status=MessageStatus(row.status),
        created_at=row.created_at,
        run_id=row.run_id,
        flow_id=row.flow_id,
        step_index=row.step_index,
        sender=row.sender,
        encoding=row.encoding,
        segments=row.segments,
        link_code=row.link_code,
        discount_code=row.discount_code,
        discount_pending=row.discount_pending,
        provider_message_id=row.provider_message_id,
        provider_segments=row.provider_segments,
        channel_used=row.channel_used,
        attempts=row.attempts,
        error_code=row.error_code,
        error=row.error,
        sent_at=row.sent_at,
        status_at=row.status_at,
        experiment_id=row.experiment_id,
        arm=row.arm,
    )


def _linked(link: Link) -> dict[str, Any]:
    return {f"link_{name}": getattr(link, name) for name in _LINK_COLUMNS}


def _stored(changes: MessageChanges) -> dict[str, Any]:
    values: dict[str, Any] = dict(changes)
    if "status" in values:
        values["status"] = str(values["status"])
    return values


def add_sent(
    conn: Connection,
    attempt: SendAttempt,
    changes: MessageChanges,
    onward: Onward | None,
    now: datetime,
) -> None:
    """PostgreSQL: `add_attempt`, and the run's move beside it (`onward`, at `now`), in one
    statement; on a connection in autocommit it commits itself (`Store.record_sent`)."""
    values = _attempt_values(attempt) | {"message_id": attempt.message_id}
    values |= {f"message_{name}": value for name, value in _stored(changes).items()}
    columns = onward_columns(onward, now) if onward is not None else {}
    if onward is not None:
        values |= owned_values(onward.claim, columns)
    execute(conn, _add_sent(frozenset(changes), frozenset(columns)), values)


@cache
def _add_sent(changed: frozenset[str], moved: frozenset[str]) -> Any:
    """`add_sent`'s statement, built once per set of columns changed. Every value has a name
    of no column of the three tables (`message_<column>`, `run_<column>`, `attempt_<column>`):
    a statement is compiled for the names given, and a name that is a table's column would be
    set in each of its statements that writes that table."""
    counted = _COUNT_ATTEMPT.values({name: bindparam(f"message_{name}") for name in changed})
    statement = _ADD_ATTEMPT.add_cte(counted.cte("counted"))
    return statement.add_cte(owned_update(moved).cte("moved")) if moved else statement


def _attempt_values(attempt: SendAttempt) -> dict[str, Any]:
    return {f"attempt_{name}": getattr(attempt, name) for name in _ATTEMPT_COLUMNS}


@cache
def _add_and_count(changed: frozenset[str]) -> Any:
    """PostgreSQL: the attempt's row, and its message counted and changed, in one statement
    (the UPDATE as a data-modifying WITH); built once per set of columns changed."""
    counted = _COUNT_ATTEMPT.values({name: bindparam(name) for name in changed})
    return _ADD_ATTEMPT.add_cte(counted.cte("counted"))
