"""Raw webhook deliveries: stored first and deduplicated, applied after, kept for replay.

`record` is the webhook's whole database work, so it is one statement in the common case: an
insert that does nothing on a repeated delivery key (then the stored one is looked up).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Dialect,
    Integer,
    Select,
    String,
    any_,
    bindparam,
    exists,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from cartback.domain.records import Delivery, DeliveryStatus, NewDelivery
from cartback.store.sql.direct import execute, execute_sql
from cartback.store.tables import deliveries
from cartback.store.types import AnyRow, UTCDateTime

_PROCESSED = str(DeliveryStatus.PROCESSED)
_RECEIVED = str(DeliveryStatus.RECEIVED)
_KEY = ("platform", "store_id", "delivery_key")
_Key = tuple[str, str, str]  # a delivery key with its platform and store
_KEYS_AT_ONCE = 100  # look-ups in one statement (SQLite allows 500 terms in a UNION)


# What `_by_key` reads: a stored delivery's id and state, or the key of a processed one.
_Columns = Literal["stored", "processed"]
_COLUMNS = {
    "stored": (deliveries.c.id, deliveries.c.delivery_key, deliveries.c.status),
    "processed": (deliveries.c.delivery_key,),
}

# `_by_key`'s statement on PostgreSQL: any of an array of keys.
_ANY_KEY = {
    columns: select(*_COLUMNS[columns]).where(
        deliveries.c.platform == bindparam("platform"),
        deliveries.c.store_id == bindparam("store"),
        deliveries.c.delivery_key == any_(bindparam("keys", type_=postgresql.ARRAY(String))),
        *([deliveries.c.status == _PROCESSED] if columns == "processed" else []),
    )
    for columns in ("stored", "processed")
}

# The oldest received deliveries of their sequences, not leased, leased for a while: built once.
_EARLIER = deliveries.alias("earlier")
_FREE = (
    select(deliveries.c.id)
    .where(
        deliveries.c.status == _RECEIVED,
        or_(
            deliveries.c.claimed_until.is_(None),
            deliveries.c.claimed_until <= bindparam("now", type_=UTCDateTime),
        ),
        ~exists().where(
            _EARLIER.c.sequence_key == deliveries.c.sequence_key,
            _EARLIER.c.status == _RECEIVED,
            _EARLIER.c.id < deliveries.c.id,
        ),
    )
    .order_by(deliveries.c.id)
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
)
_CLAIM = (
    update(deliveries)
    .where(deliveries.c.id.in_(_FREE.scalar_subquery()))
    .values(claimed_until=bindparam("until"))
    .returning(*deliveries.c)
)

# A delivery applied (or failed): built once, the values as parameters.
_MARK = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("delivery_id"))
    .values(
        status=bindparam("new_status"),
        error=bindparam("why"),
        processed_at=bindparam("at"),
        claimed_until=None,
        attempts=deliveries.c.attempts + 1,
    )
)

# The inserts of every webhook, built once per dialect (the values are parameters).
_INSERTS = {
    name: dialect.insert(deliveries).on_conflict_do_nothing(index_elements=_KEY)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_INSERT_ONE = {name: insert.returning(deliveries.c.id) for name, insert in _INSERTS.items()}
# SQLite's insert of a batch (PostgreSQL's is `_INSERT_ARRAYS`).
_INSERT_MANY = _INSERTS["sqlite"].returning(
    deliveries.c.id, deliveries.c.platform, deliveries.c.store_id, deliveries.c.delivery_key
)

# PostgreSQL's insert of a batch: one statement over arrays, a column each, whatever the batch's
# size. SQLAlchemy's insert of many rows renders a VALUES list anew for every size of batch, a
# text too long for psycopg to keep its parsing, so it was parsed again on every batch (a tenth
# of an ingesting server's CPU); this one is parsed once and prepared by the server. The arrays
# go in psycopg's binary format (`%(…)b`): in text every byte of every body is escaped in Python,
# ten times the cost. The rows go in the arrays' order (`place`), so the ids made still number
# them in turn.
#
# The same statement reads the deliveries whose keys were stored before (a platform's retry):
# its second part sees the rows committed before it began, never the ones it inserts, and looks
# up only the keys the insert skipped. A key skipped because another transaction stored it while
# this one ran is in neither part; `record_many` looks that one up after.
_INSERT_ARRAYS = """
    WITH batch AS (
        SELECT *
        FROM unnest(CAST(%(platform)b AS varchar[]), CAST(%(store_id)b AS varchar[]),
                    CAST(%(topic)b AS varchar[]), CAST(%(delivery_key)b AS varchar[]),
                    CAST(%(headers)b AS text[]), CAST(%(body)b AS bytea[]),
                    CAST(%(received_at)b AS timestamptz[]), CAST(%(sequence_key)b AS varchar[]))
             WITH ORDINALITY AS batch(platform, store_id, topic, delivery_key, headers, body,
                                      received_at, sequence_key, place)
    ), made AS (
        INSERT INTO deliveries (platform, store_id, topic, delivery_key, headers, body,
                                received_at, status, sequence_key)
        SELECT platform, store_id, topic, delivery_key, CAST(headers AS json), body, received_at,
               %(status)b, sequence_key
        FROM batch
        ORDER BY place
        ON CONFLICT (platform, store_id, delivery_key) DO NOTHING
        RETURNING id, platform, store_id, delivery_key
    )
    SELECT id, platform, store_id, delivery_key, NULL AS status FROM made
    UNION ALL
    SELECT stored.id, stored.platform, stored.store_id, stored.delivery_key, stored.status
    FROM batch
    JOIN deliveries AS stored
      ON stored.platform = batch.platform AND stored.store_id = batch.store_id
         AND stored.delivery_key = batch.delivery_key
    WHERE NOT EXISTS (
        SELECT FROM made
        WHERE made.platform = batch.platform AND made.store_id = batch.store_id
              AND made.delivery_key = batch.delivery_key
    )
"""

_UTC = UTCDateTime()


class SqlDeliveries:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record(self, delivery: NewDelivery) -> tuple[int, bool]:
        statement = _INSERT_ONE[self.conn.dialect.name]
        row_id = self.conn.execute(statement, _values(delivery)).scalar()
        if row_id is not None:
            return int(row_id), False
        # The same delivery was stored before, or by a request racing this one.
        key = _key(delivery)
        return self._stored([key])[key]

    def record_many(self, batch: Sequence[NewDelivery]) -> list[tuple[int, bool]]:
        """`record` for many: one insert, in arrival order, that skips the keys stored before
        (and says which rows it made; on PostgreSQL it also reads those stored before), then,
        only when some are still unknown, one look-up of those."""
        if len(batch) == 1 and self.conn.dialect.name != "postgresql":
            return [self.record(batch[0])]  # PostgreSQL: one statement for every size
        places: dict[_Key | int, int] = {}  # a key (or the place of a keyless one) → first place
        for place, delivery in enumerate(batch):
            places.setdefault(_key(delivery) if delivery.delivery_key is not None else place, place)
        made, found = self._insert_new([batch[place] for place in places.values()])
        ids = dict(zip(places, made, strict=True))
        unknown = [k for k, got in ids.items() if got is None and isinstance(k, tuple)]
        found.update(self._stored([key for key in unknown if key not in found]))
        kept: list[tuple[int, bool]] = []
        for place, delivery in enumerate(batch):
            if delivery.delivery_key is None:
                kept.append((_made(ids[place]), False))
            elif (made_id := ids[_key(delivery)]) is not None:
                kept.append((made_id, False))
            else:
                kept.append(found[_key(delivery)])
        return kept

    def _insert_new(
        self, batch: list[NewDelivery]
    ) -> tuple[list[int | None], dict[_Key, tuple[int, bool]]]:
        """Insert `batch` in its order, skipping the keys stored before: each one's new id, or
        None where its key was stored; and the stored deliveries the statement read (PostgreSQL:
        those of the keys it skipped, see `_INSERT_ARRAYS`). A statement numbers its rows in
        order, so the ids made, sorted, belong to the inserted deliveries in turn (whatever
        order RETURNING gives)."""
        found: dict[_Key, tuple[int, bool]] = {}
        rows: list[Any]
        if self.conn.dialect.name == "postgresql":
            columns = _columns(batch, self.conn.dialect)
            rows = []
            for row in execute_sql(self.conn, _INSERT_ARRAYS, columns):
                if row.status is None:  # made by this statement
                    rows.append(row)
                else:  # stored before it
                    key = (row.platform, row.store_id, row.delivery_key)
                    found[key] = (int(row.id), row.status == _PROCESSED)
        else:
            rows = list(self.conn.execute(_INSERT_MANY, [_values(d) for d in batch]))
        inserted = {
            (r.platform, r.store_id, r.delivery_key) for r in rows if r.delivery_key is not None
        }
        made = iter(sorted(int(row.id) for row in rows))
        ids = [next(made) if d.delivery_key is None or _key(d) in inserted else None for d in batch]
        return ids, found

    def _stored(self, keys: list[_Key]) -> dict[_Key, tuple[int, bool]]:
        """The stored deliveries of `keys`: id, and whether processed."""
        by_store: dict[tuple[str, str], list[str]] = {}
        for platform, store_id, key in keys:
            by_store.setdefault((platform, store_id), []).append(key)
        found: dict[_Key, tuple[int, bool]] = {}
        for (platform, store_id), names in by_store.items():
            for row in self._by_key("stored", platform, store_id, names):
                found[(platform, store_id, row.delivery_key)] = (
                    int(row.id),
                    row.status == _PROCESSED,
                )
        return found

    def _by_key(
        self, columns: _Columns, platform: str, store_id: str, names: Sequence[str]
    ) -> list[AnyRow]:
        """The rows of a store's delivery keys, by the unique index: on PostgreSQL one statement
        over an array of the keys; on SQLite one equality look-up per key, in one statement (a
        UNION ALL) for up to `_KEYS_AT_ONCE` of them.

        Not `delivery_key IN (…)`: SQLAlchemy renders an IN list anew on every call, and on a
        platform's retry that cost more than the look-up itself (≈ 0.26 against 0.16 ms of the
        client's CPU per repeated delivery). Nor, on PostgreSQL, the UNION: its text, long and
        different for each count of keys, was parsed again by psycopg on every call. The plan
        is the unique index's either way where PostgreSQL has statistics; a database never
        analyzed (its first minute, before autovacuum) may read a store's deliveries through
        `ix_deliveries_store_id_id` instead, whichever form is asked."""
        if not names:
            return []
        if self.conn.dialect.name == "postgresql":
            values = {"platform": platform, "store": store_id, "keys": list(names)}
            return list(self.conn.execute(_ANY_KEY[columns], values))
        rows: list[AnyRow] = []
        for start in range(0, len(names), _KEYS_AT_ONCE):
            chunk = names[start : start + _KEYS_AT_ONCE]
            values = {f"key_{n}": name for n, name in enumerate(chunk)}
            values.update(platform=platform, store=store_id)
            rows += self.conn.execute(_lookups(columns, len(chunk)), values)
        return rows

    def claim(self, now: datetime, limit: int, lease: timedelta) -> list[Delivery]:
        values = {"now": now, "limit": limit, "until": now + lease}
        rows = execute(self.conn, _CLAIM, values).all()
        return sorted((delivery_from(row) for row in rows), key=lambda d: d.id)

    def mark(
        self, delivery_id: int, status: DeliveryStatus, at: datetime, error: str | None
    ) -> None:
        values = {"delivery_id": delivery_id, "new_status": str(status), "at": at, "why": error}
        execute(self.conn, _MARK, values)

    def get(self, delivery_id: int) -> Delivery | None:
        row = self.conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
        return delivery_from(row) if row is not None else None

    def listing(
        self,
        *,
        status: DeliveryStatus | None,
        store_id: str | None,
        limit: int,
        after: int | None = None,
    ) -> list[Delivery]:
        query = select(deliveries)
        if after is not None:
            query = query.where(deliveries.c.id < after)
        if status is not None:
            # Written into the statement, not bound: the planner then knows it is 'failed' (or
            # 'received') and can read the partial index of those (`ix_deliveries_failed`,
            # `ix_deliveries_to_apply`); a bound value hides that from a prepared plan.
            query = query.where(deliveries.c.status == literal(str(status), literal_execute=True))
        if store_id is not None:
            query = query.where(deliveries.c.store_id == store_id)
        rows = self.conn.execute(query.order_by(deliveries.c.id.desc()).limit(limit))
        return [delivery_from(row) for row in rows]

    def processed_keys(self, platform: str, store_id: str, keys: Collection[str]) -> set[str]:
        rows = self._by_key("processed", platform, store_id, list(keys))
        return {row.delivery_key for row in rows}


@cache
def _lookups(columns: _Columns, count: int) -> Select[Any] | CompoundSelect[Any]:
    """`_by_key`'s statement for `count` keys, built once (its values are parameters)."""
    lookups = [
        select(*_COLUMNS[columns]).where(
            deliveries.c.platform == bindparam("platform"),
            deliveries.c.store_id == bindparam("store"),
            deliveries.c.delivery_key == bindparam(f"key_{n}"),
            *([deliveries.c.status == _PROCESSED] if columns == "processed" else []),
        )
        for n in range(count)
    ]
    return lookups[0] if count == 1 else union_all(*lookups)


def _made(delivery_id: int | None) -> int:
    """A keyless delivery's id: such a row is always inserted."""
    if delivery_id is None:
        raise RuntimeError("a delivery without a key was not inserted")
    return delivery_id


def _key(delivery: NewDelivery) -> _Key:
    return (delivery.platform, delivery.store_id, delivery.delivery_key or "")


def _values(delivery: NewDelivery) -> dict[str, object]:
    return {
        "platform": delivery.platform,
        "store_id": delivery.store_id,
        "topic": delivery.topic,
        "delivery_key": delivery.delivery_key,
        "headers": dict(delivery.headers),
        "body": delivery.body,
        "received_at": delivery.received_at,
        "status": _RECEIVED,
        "sequence_key": delivery.sequence_key,
    }


def _columns(batch: Sequence[NewDelivery], dialect: Dialect) -> dict[str, object]:
    """`batch` as `_INSERT_ARRAYS` takes it: `_values`' columns as a list each, the headers as
    JSON text, the times by their column type's rule (aware, or refused)."""
    rows = [_values(delivery) for delivery in batch]
    columns: dict[str, object] = {name: [row[name] for row in rows] for name in rows[0]}
    columns["headers"] = [json.dumps(row["headers"]) for row in rows]
    columns["received_at"] = [_UTC.process_bind_param(d.received_at, dialect) for d in batch]
    columns["status"] = _RECEIVED
    return columns


def delivery_from(row: AnyRow) -> Delivery:
    return Delivery(
        id=row.id,
        platform=row.platform,
        store_id=row.store_id,
        topic=row.topic,
        delivery_key=row.delivery_key,
        headers=dict(row.headers or {}),
        body=bytes(row.body),
        received_at=row.received_at,
        sequence_key=row.sequence_key,
        status=DeliveryStatus(row.status),
        error=row.error,
        processed_at=row.processed_at,
        attempts=row.attempts,
    )
