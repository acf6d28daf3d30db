"""The questions asked before every send (store/lookback.py), in one statement.

Each answer is the repositories' own query for it, as a subquery of one SELECT: the same
conditions and indexes as asked one by one, and one round trip instead of eight. The statement is
built once per shape (who and what is known), with the values as parameters.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    bindparam,
    cast,
    false,
    func,
    literal,
    null,
    select,
    union_all,
)

from cartback.domain.records import Cart
from cartback.store.lookback import Ask, History, Lookback
from cartback.store.sql.carts import _abandonments, _newer_live
from cartback.store.sql.common import person
from cartback.store.sql.consent import _LATEST, blocked_statement, blocked_values
from cartback.store.sql.direct import execute
from cartback.store.sql.messages import _LAST_TO_FROM_OTHERS, _SMS_IN_RUN
from cartback.store.sql.orders import _last_purchase, _ordered_since, _purchases, purchases_from
from cartback.store.tables import consent_ledger, touches
from cartback.store.types import Amount

# touches.last on a channel, with its own name for the time it counts from (`since` is the
# cart's last activity in the other subqueries).
_LAST_TOUCH = select(func.max(touches.c.sent_at)).where(
    touches.c.address == bindparam("address"),
    touches.c.sent_at >= bindparam("touched_since"),
    touches.c.channel == bindparam("channel"),
)


class SqlLookback:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def before_send(self, ask: Ask) -> Lookback:
        cart, address = ask.cart, ask.address
        known = person(cart.email, cart.phone)
        blocked = (len(ask.blocked_addresses), len(ask.blocked_phones))
        query = _statement(
            "email" in known, "phone" in known, address is not None, ask.ordered, blocked
        )
        values: dict[str, Any] = {
            "store_id": cart.store_id,
            "id": cart.id,
            "since": cart.last_activity_at,
            "run_id": ask.run_id,
            "channel": ask.kind,
            **known,
        }
        if address is not None:
            values |= {"address": address, "recipient": address, "touched_since": ask.touched_since}
        if any(blocked):
            values |= blocked_values(ask.blocked_addresses, ask.blocked_phones)
        row = execute(self.conn, query, values).one()
        return Lookback(
            ordered_since=bool(row.ordered_since),
            consent=None if row.consent is None else bool(row.consent),
            blocked=bool(row.blocked),
            last_ours=row.last_ours,
            last_theirs=row.last_theirs,
            newer_cart=bool(row.newer_cart),
            last_purchase=row.last_purchase,
            sms_in_run=int(row.sms_in_run),
        )

    def history(self, cart: Cart) -> History:
        known = person(cart.email, cart.phone)
        if not known:
            return History([], [])
        query = _history("email" in known, "phone" in known)
        rows = self.conn.execute(query, {"store_id": cart.store_id, "id": cart.id} | known).all()
        purchases = purchases_from(row for row in rows if row.kind == "order")
        abandoned = (row.placed_at for row in rows if row.kind == "cart")
        return History(purchases, [at for at in abandoned if at is not None])


@cache
def _history(email: bool, phone: bool) -> Any:
    """The person's orders and their other abandoned carts, one statement: `_purchases`' rows,
    then `_abandonments`' (its time as `placed_at`, the rest empty)."""
    orders_part = _purchases(email, phone).add_columns(literal("order", String).label("kind"))
    abandoned = _abandonments(email, phone).subquery()
    carts_part = select(
        cast(null(), Amount).label("total"),
        abandoned.c.abandoned_at.label("placed_at"),
        cast(null(), String).label("currency"),
        cast(null(), String).label("status"),
        null().label("test"),
        cast(null(), Amount).label("refunded"),
        literal("cart", String).label("kind"),
    )
    return union_all(orders_part, carts_part)


@cache
def _statement(
    email: bool, phone: bool, address: bool, ordered: bool, blocked: tuple[int, int]
) -> Any:
    """Built once per shape; `blocked`: how many addresses and STOP phones are asked about."""
    known = email or phone
    granted = _LATEST.with_only_columns(consent_ledger.c.granted)
    columns: dict[str, ColumnElement[Any]] = {
        "ordered_since": _ordered_since(email, phone).exists() if ordered and known else false(),
        "consent": granted.scalar_subquery() if address else null(),
        "blocked": blocked_statement(*blocked).exists() if any(blocked) else false(),
        "last_ours": _LAST_TO_FROM_OTHERS.scalar_subquery() if address else null(),
        "last_theirs": _LAST_TOUCH.scalar_subquery() if address else null(),
        "newer_cart": _newer_live(email, phone).exists() if known else false(),
        "last_purchase": _last_purchase(email, phone).scalar_subquery() if known else null(),
        "sms_in_run": _SMS_IN_RUN.scalar_subquery(),
    }
    return select(*(column.label(name) for name, column in columns.items()))
