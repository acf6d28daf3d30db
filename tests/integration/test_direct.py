"""The send path's statements on the driver's cursor (store/sql/direct.py) do what SQLAlchemy
does with them: the same rows (by name and position, values processed as the columns' types
say), the same changes, SQLAlchemy's errors, the connection's transaction and events. On
SQLite it is SQLAlchemy itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, event, insert, select, update
from sqlalchemy.exc import IntegrityError

from cartback.store.db import connect
from cartback.store.sql import direct
from cartback.store.sql.direct import execute
from cartback.store.tables import carts

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
_BY_KEY = select(carts).where(carts.c.store_id == "direct", carts.c.cart_key == bindparam("key"))
# Literal values beside named ones: the literals' parameters are SQLAlchemy's own, anonymous,
# and those of a time and an amount go through their column type's processing.
_OPEN_SINCE = select(carts.c.id, carts.c.total.label("basket")).where(
    carts.c.status == "open",
    carts.c.created_at >= datetime(2026, 1, 1, tzinfo=UTC),
    carts.c.total > Decimal("0.00"),
    carts.c.updated_at >= bindparam("since"),
    carts.c.cart_key == bindparam("key"),
)
_CHANGE = update(carts).where(carts.c.id == bindparam("cart_id"))  # set: the keys given
_ADD = insert(carts)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = connect(db_url)
    yield made
    made.dispose()


def _cart(key: str, **changes: Any) -> dict[str, Any]:
    times = dict.fromkeys(("occurred_at", "last_activity_at", "created_at", "updated_at"), NOW)
    basket = {"currency": "DKK", "total": Decimal("449.50"), "discount_codes": []}
    basket["items"] = [{"title": "Uldtæppe", "quantity": 2, "price": "224.75"}]
    cart = {"store_id": "direct", "cart_key": key, "status": "open", "customer_tags": ["vip"]}
    return cart | basket | times | changes


def _add(engine: Engine, **changes: Any) -> str:
    key = uuid.uuid4().hex
    with engine.begin() as conn:
        conn.execute(_ADD, _cart(key, **changes))
    return key


def test_rows_are_sqlalchemys_rows(engine: Engine) -> None:
    key = _add(engine, abandoned_at=NOW + timedelta(minutes=30), sms_consent=True)
    with engine.connect() as conn:
        theirs = conn.execute(_BY_KEY, {"key": key}).one()
        ours = execute(conn, _BY_KEY, {"key": key}).one()
        conn.commit()
    assert tuple(ours) == tuple(theirs)
    assert ours._mapping == dict(theirs._mapping)
    assert ours.total == Decimal("449.50") and isinstance(ours.total, Decimal)
    assert ours.abandoned_at == NOW + timedelta(minutes=30)
    assert ours.abandoned_at.utcoffset() == timedelta(0)
    assert ours.items == [{"title": "Uldtæppe", "quantity": 2, "price": "224.75"}]
    assert ours.sms_consent is True and ours.email_consent is None
    with pytest.raises(AttributeError):
        _ = ours.no_such_column


def test_a_literal_beside_named_values_and_a_label(engine: Engine) -> None:
    key = _add(engine)
    with engine.connect() as conn:
        for _ in range(6):  # past psycopg's preparing (its fifth execution)
            rows = execute(conn, _OPEN_SINCE, {"since": NOW - timedelta(hours=1), "key": key})
            found = rows.all()
            assert len(found) == 1 and found[0].basket == Decimal("449.50")
        later = execute(conn, _OPEN_SINCE, {"since": NOW + timedelta(hours=1), "key": key})
        assert later.first() is None
        conn.commit()


def test_the_columns_set_are_the_keys_given(engine: Engine) -> None:
    key = _add(engine)
    with engine.begin() as conn:
        cart_id = execute(conn, _BY_KEY, {"key": key}).scalar_one()
        changed = execute(conn, _CHANGE, {"cart_id": cart_id, "status": "abandoned"})
        assert changed.rowcount == 1
        execute(conn, _CHANGE, {"cart_id": cart_id, "total": Decimal("10.05"), "phone": "+4520"})
        assert execute(conn, _CHANGE, {"cart_id": -1, "status": "x"}).rowcount == 0
    with engine.connect() as conn:
        row = conn.execute(_BY_KEY, {"key": key}).one()
    assert (row.status, row.total, row.phone) == ("abandoned", Decimal("10.05"), "+4520")


def test_many_values_insert_one_row_each(engine: Engine) -> None:
    keys = [uuid.uuid4().hex for _ in range(3)]
    with engine.begin() as conn:
        execute(conn, _ADD, [_cart(key) for key in keys])
    with engine.connect() as conn:
        found = conn.execute(select(carts.c.cart_key).where(carts.c.cart_key.in_(keys))).scalars()
        assert sorted(found) == sorted(keys)


def test_an_error_is_sqlalchemys_and_the_transaction_rolls_back(engine: Engine) -> None:
    key = _add(engine)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        execute(conn, _CHANGE, {"cart_id": -1, "status": "x"})
        execute(conn, _ADD, _cart(key))  # (store_id, cart_key) is unique
    with engine.begin() as conn:  # the pooled connection is usable again
        assert execute(conn, _BY_KEY, {"key": key}).one().cart_key == key


def test_a_statement_outside_a_transaction_begins_one(engine: Engine) -> None:
    key = _add(engine)
    with engine.connect() as conn:
        cart_id = execute(conn, _BY_KEY, {"key": key}).scalar_one()
        assert conn.in_transaction()
        execute(conn, _CHANGE, {"cart_id": cart_id, "status": "purchased"})
        conn.commit()
    with engine.connect() as conn:
        assert conn.execute(_BY_KEY, {"key": key}).one().status == "purchased"


def test_the_cursor_events_see_the_statement(engine: Engine) -> None:
    key = _add(engine)
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        with engine.connect() as conn:
            execute(conn, _BY_KEY, {"key": key}).one()
            conn.commit()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [statement for statement in seen if "FROM carts" in statement]


def test_statements_made_per_call_go_through_sqlalchemy_once_the_cache_is_full(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _add(engine)
    monkeypatch.setattr(direct, "_LIMIT", len(direct._CACHE))
    made = select(carts.c.cart_key).where(carts.c.cart_key == key)  # a new statement
    with engine.connect() as conn:
        assert execute(conn, made).scalar_one() == key
        conn.commit()
    assert all(direct._KEEP.get(statement_id) is not made for statement_id, *_ in direct._CACHE)


def test_a_statement_in_the_drivers_placeholders_gives_rows_by_name(engine: Engine) -> None:
    """`execute_sql`: the driver's own placeholders, rows by the names the server gave the
    columns, the cursor events, SQLAlchemy's errors."""
    key = _add(engine)
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    marker = "%(key)s" if engine.dialect.name == "postgresql" else ":key"
    sql = f"SELECT id, cart_key AS named, 7 AS seven FROM carts WHERE cart_key = {marker}"
    with engine.begin() as conn:
        [row] = direct.execute_sql(conn, sql, {"key": key}).all()
        assert (row.named, row.seven) == (key, 7) and row[1] == key
        assert direct.execute_sql(conn, sql, {"key": "none"}).all() == []
    assert seen.count(sql) == 2
    store = "%(store)s" if engine.dialect.name == "postgresql" else ":store"
    with pytest.raises(IntegrityError), engine.begin() as conn:  # no cart key: NOT NULL
        direct.execute_sql(conn, f"INSERT INTO carts (store_id) VALUES ({store})", {"store": "x"})
