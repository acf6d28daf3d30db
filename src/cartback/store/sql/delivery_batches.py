"""A batch of webhook deliveries stored at once: the statements, and the sorting out of what
they answer, shared by the recorder's threads (`SqlDeliveries.record_many`) and a server's event
loop (`LoopDeliveries`, PostgreSQL).

One insert, in arrival order, skips the keys stored before and says which rows it made (on
PostgreSQL it also reads those stored before, see `INSERT_ARRAYS`); then, only when some are still
unknown (stored by a transaction that ran beside it), one look-up of those.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import psycopg
from sqlalchemy import Dialect, Engine, String, any_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

from cartback.domain.records import DeliveryStatus, NewDelivery
from cartback.store.db import CONNECT_TIMEOUT
from cartback.store.tables import deliveries
from cartback.store.types import UTCDateTime

_PROCESSED = str(DeliveryStatus.PROCESSED)
_RECEIVED = str(DeliveryStatus.RECEIVED)
_KEY = ("platform", "store_id", "delivery_key")
Key = tuple[str, str, str]  # a delivery key with its platform and store

# What a look-up by key reads: a stored delivery's id and state, or the key of a processed one.
Lookup = Literal["stored", "processed"]
LOOKUP_COLUMNS = {
    "stored": (deliveries.c.id, deliveries.c.delivery_key, deliveries.c.status),
    "processed": (deliveries.c.delivery_key,),
}

# The look-up on PostgreSQL: any of an array of keys (`SqlDeliveries._by_key`; `LoopDeliveries`
# runs the "stored" one as compiled for psycopg).
ANY_KEY = {
    columns: select(*LOOKUP_COLUMNS[columns]).where(
        deliveries.c.platform == bindparam("platform"),
        deliveries.c.store_id == bindparam("store"),
        deliveries.c.delivery_key == any_(bindparam("keys", type_=postgresql.ARRAY(String))),
        *([deliveries.c.status == _PROCESSED] if columns == "processed" else []),
    )
    for columns in ("stored", "processed")
}

# The inserts of every webhook, built once per dialect (the values are parameters).
_INSERTS = {
    name: dialect.insert(deliveries).on_conflict_do_nothing(index_elements=_KEY)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
INSERT_ONE = {name: insert.returning(deliveries.c.id) for name, insert in _INSERTS.items()}
# SQLite's insert of a batch (PostgreSQL's is `INSERT_ARRAYS`).
INSERT_MANY = _INSERTS["sqlite"].returning(
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
INSERT_ARRAYS = """
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


def first_places(batch: Sequence[NewDelivery]) -> dict[Key | int, int]:
    """Each key's first place in `batch` (a keyless delivery by its place): a key sent twice in
    one batch is inserted once."""
    places: dict[Key | int, int] = {}
    for place, delivery in enumerate(batch):
        places.setdefault(key_of(delivery) if delivery.delivery_key is not None else place, place)
    return places


def sorted_out(
    batch: list[NewDelivery], rows: Iterable[Sequence[Any]]
) -> tuple[list[int | None], dict[Key, tuple[int, bool]]]:
    """The insert's rows (id, platform, store, key, and on PostgreSQL the status of a row stored
    before) sorted out: each delivery of `batch` its new id, or None where its key was stored;
    and the stored deliveries the statement read (PostgreSQL: those of the keys it skipped, see
    `INSERT_ARRAYS`). A statement numbers its rows in order, so the ids made, sorted, belong to
    the inserted deliveries in turn (whatever order RETURNING gives)."""
    found: dict[Key, tuple[int, bool]] = {}
    made: list[int] = []
    inserted: set[Key] = set()
    for row in rows:
        key = (row[1], row[2], row[3])
        if len(row) > 4 and row[4] is not None:  # stored before the statement
            found[key] = (int(row[0]), row[4] == _PROCESSED)
            continue
        made.append(int(row[0]))
        if row[3] is not None:
            inserted.add(key)
    ids = iter(sorted(made))
    return [
        next(ids) if d.delivery_key is None or key_of(d) in inserted else None for d in batch
    ], found


def unknown(ids: dict[Key | int, int | None], found: dict[Key, tuple[int, bool]]) -> list[Key]:
    """The keys neither inserted nor read by the insert: stored by a transaction that ran
    beside it."""
    return [k for k, got in ids.items() if got is None and isinstance(k, tuple) and k not in found]


def kept(
    batch: Sequence[NewDelivery],
    ids: dict[Key | int, int | None],
    found: dict[Key, tuple[int, bool]],
) -> list[tuple[int, bool]]:
    """Each delivery's id, and whether it was stored before (a duplicate)."""
    kept: list[tuple[int, bool]] = []
    for place, delivery in enumerate(batch):
        if delivery.delivery_key is None:
            kept.append((_made(ids[place]), False))
        elif (made_id := ids[key_of(delivery)]) is not None:
            kept.append((made_id, False))
        else:
            kept.append(found[key_of(delivery)])
    return kept


def by_store(keys: list[Key]) -> dict[tuple[str, str], list[str]]:
    by_store: dict[tuple[str, str], list[str]] = {}
    for platform, store_id, key in keys:
        by_store.setdefault((platform, store_id), []).append(key)
    return by_store


def stored(
    platform: str, store_id: str, rows: Iterable[Sequence[Any]]
) -> dict[Key, tuple[int, bool]]:
    """The stored deliveries of a look-up's rows (id, key, status): id, and whether processed."""
    return {(platform, store_id, row[1]): (int(row[0]), row[2] == _PROCESSED) for row in rows}


def _made(delivery_id: int | None) -> int:
    """A keyless delivery's id: such a row is always inserted."""
    if delivery_id is None:
        raise RuntimeError("a delivery without a key was not inserted")
    return delivery_id


def key_of(delivery: NewDelivery) -> Key:
    return (delivery.platform, delivery.store_id, delivery.delivery_key or "")


def values_of(delivery: NewDelivery) -> dict[str, object]:
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


def rows_of(batch: Sequence[NewDelivery]) -> list[dict[str, object]]:
    return [values_of(delivery) for delivery in batch]


def columns_of(batch: Sequence[NewDelivery], dialect: Dialect) -> dict[str, object]:
    """`batch` as `INSERT_ARRAYS` takes it: `values_of`' columns as a list each, the headers as
    JSON text, the times by their column type's rule (aware, or refused)."""
    rows = rows_of(batch)
    columns: dict[str, object] = {name: [row[name] for row in rows] for name in rows[0]}
    columns["headers"] = [json.dumps(row["headers"]) for row in rows]
    columns["received_at"] = [_UTC.process_bind_param(d.received_at, dialect) for d in batch]
    columns["status"] = _RECEIVED
    return columns


# The look-up of stored keys in the driver's own text, for `LoopDeliveries` (its values go as
# they are: two strings and a list of strings).
_PSYCOPG = psycopg_dialect()  # type: ignore[no-untyped-call]
_STORED_BY_KEYS = ANY_KEY["stored"].compile(dialect=_PSYCOPG).string


class LoopDeliveries:
    """PostgreSQL: `SqlDeliveries.record_many` awaited on an event loop, on a connection of its
    own (psycopg's asynchronous one, in autocommit): the same statements, the same answers.

    A server's webhooks wait on the loop for their deliveries to be stored; written by a thread,
    each batch cost two hand-offs between the loop and that thread (and the interpreter's lock
    passed between them), about a tenth of the server's CPU under load. Here the loop writes the
    batch itself, and while the statement runs it answers other requests. One caller at a time
    (`engine/recorder.py` awaits one batch before it takes the next). A connection that fails
    is closed, and the next batch opens another; `close` closes it.
    """

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT)
        self._args, self._kwargs = args, kwargs
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def record_many(self, batch: Sequence[NewDelivery]) -> list[tuple[int, bool]]:
        places = first_places(batch)
        unique = [batch[place] for place in places.values()]
        conn = await self._connection()
        try:
            async with conn.cursor() as cursor:
                await cursor.execute(INSERT_ARRAYS, columns_of(unique, self.dialect))
                made, found = sorted_out(unique, await cursor.fetchall())
                ids = dict(zip(places, made, strict=True))
                for (platform, store_id), names in by_store(unknown(ids, found)).items():
                    values = {"platform": platform, "store": store_id, "keys": names}
                    await cursor.execute(_STORED_BY_KEYS, values)
                    found.update(stored(platform, store_id, await cursor.fetchall()))
        except BaseException:
            self.close()
            raise
        return kept(batch, ids, found)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                *self._args, autocommit=True, **self._kwargs
            )
        return self._conn

    def close(self) -> None:
        """Close the connection, from any thread, its loop running or not (libpq's `PQfinish`:
        nothing to await)."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            conn.pgconn.finish()
