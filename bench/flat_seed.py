"""The stored history `bench/flat_cost.py` measures against, written in bulk by the database
itself (INSERT … SELECT over a generated series, one transaction) on PostgreSQL and SQLite.

`carts` carts of one store, stored in the order of their times as a shop's are (ids and times
grow together): the last `recent` within the 30 days before `now` (the month the report reads),
the others spread evenly over DAYS days before that month. A third stay open
(a `no_consent` skip), a third are abandoned and a third bought (an order, half of them
recovered). Every abandoned cart is assigned in the flow: one in ten held out, the others split
over an experiment's two arms; treated carts got an SMS with a short link, and a quarter of
those links were clicked (one in five of the clicks by a machine). The first DUE runs (of the
oldest carts) are due; once a worker has run them, their carts are abandoned in the month with
the lowest ids, as a returning customer's old checkout would be.
Every cart has one delivery; FAILED of every hundred failed, all among the first stored (the
lowest ids, the farthest from where a page of the newest starts).

Every table's rows are written in the order of their carts, as a running shop appends them over
time: a month's messages, orders and decisions then lie together at the end of their tables,
where a join's own order (a hash join's) would scatter them over the whole history and make a
month's report read a page of the table for each of its rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

DUE = 50
FAILED = 3  # deliveries of every hundred
DAYS = 700
TABLES = ("carts", "runs", "deliveries", "messages", "links", "clicks", "orders", "decisions")

_PG = {
    "series": "generate_series(1, :n) AS s(g)",
    "phone": "lpad((g % 1000000)::text, 6, '0')",
    "body": "'\\x7b7d'::bytea",
    "true": "true",
    "false": "false",
    "json": "CAST({} AS json)",
}
_SQLITE = {
    "series": (
        "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n) "
        "SELECT g FROM s) AS s"
    ),
    "phone": "printf('%06d', g % 1000000)",
    "body": "X'7b7d'",
    "true": "1",
    "false": "0",
    "json": "{}",
}

# {ago(x)}: `now` less x seconds; {later(column, minutes)}: the column's time plus minutes.
_STATEMENTS = """
INSERT INTO carts (store_id, cart_key, email, phone, currency, total, items, discount_codes,
                   status, occurred_at, last_activity_at, created_at, updated_at, abandoned_at)
SELECT 'bench', 'c' || g, 'p' || g || '@example.com', '+4520' || {phone}, 'DKK', '100', '[]',
       '[]', CASE g % 3 WHEN 0 THEN 'purchased' WHEN 1 THEN 'abandoned' ELSE 'open' END,
       t, t, t, t, CASE WHEN g % 3 <> 2 THEN t END
FROM (SELECT g, CASE WHEN g > :n - :recent THEN {ago_recent} ELSE {ago_old} END AS t
      FROM {series}) AS dated;

INSERT INTO runs (cart_id, flow_id, step_index, status, next_run_at, created_at, updated_at,
                  holdout, arms)
SELECT id, 'cart-sms', CASE WHEN id <= :due THEN -1 ELSE 0 END,
       CASE WHEN id <= :due THEN 'pending' ELSE 'done' END,
       CASE WHEN id <= :due THEN {ago_minute} END, created_at, updated_at,
       CASE WHEN id <= :due OR abandoned_at IS NULL THEN NULL
            WHEN id % 10 = 0 THEN {true} ELSE {false} END,
       CASE WHEN id <= :due OR abandoned_at IS NULL THEN NULL
            WHEN id % 10 = 0 THEN {json_empty}
            WHEN (id / 10) % 2 = 0 THEN {json_a} ELSE {json_b} END
FROM carts;

INSERT INTO deliveries (platform, store_id, topic, delivery_key, received_at, headers, body,
                        status, error, attempts, processed_at)
SELECT 'shopify', 'bench', 'checkouts/update', 'd' || id, created_at, '{{}}', {body},
       CASE WHEN id BETWEEN 101 AND 100 + :failed THEN 'failed' ELSE 'processed' END,
       CASE WHEN id BETWEEN 101 AND 100 + :failed THEN 'a bad hour' END, 1, created_at
FROM carts;

INSERT INTO messages (id, store_id, cart_id, run_id, flow_id, step_index, channel, provider,
                      recipient, body, segments, cost, currency, link_code, status, attempts,
                      created_at, sent_at, experiment_id, arm)
SELECT 'm' || c.id, 'bench', c.id, r.id, 'cart-sms', 0, 'sms', 'outbox', c.phone,
       'Your basket is saved', 1, '0.30', 'DKK', 'l' || c.id, 'sent', 1,
       {later_created_30}, {later_created_30}, 'cart-sms.step1',
       CASE WHEN (c.id / 10) % 2 = 0 THEN 'a' ELSE 'b' END
FROM carts c JOIN runs r ON r.cart_id = c.id
WHERE c.abandoned_at IS NOT NULL AND c.id % 10 <> 0
ORDER BY c.id;

INSERT INTO links (code, message_id, cart_id, target_url, created_at)
SELECT link_code, id, cart_id, 'https://bench.myshopify.com/cart', created_at FROM messages
ORDER BY cart_id;

INSERT INTO clicks (code, message_id, cart_id, at, bot, agent_class)
SELECT link_code, id, cart_id, {later_message_10}, CASE WHEN cart_id % 20 = 1 THEN {true}
       ELSE {false} END, 'browser'
FROM messages WHERE cart_id % 4 = 1
ORDER BY cart_id;

INSERT INTO decisions (cart_id, run_id, flow_id, step_index, at, action, reason, detail)
SELECT cart_id, run_id, 'cart-sms', step_index, at, action, reason, detail
FROM (SELECT c.id AS cart_id, r.id AS run_id, -1 AS step_index, c.abandoned_at AS at,
             'abandon' AS action, 'abandoned' AS reason, 'No update: abandoned.' AS detail
      FROM carts c JOIN runs r ON r.cart_id = c.id WHERE c.abandoned_at IS NOT NULL
      UNION ALL
      SELECT c.id, r.id, 0, c.created_at, 'skip', 'no_consent', 'No consent on record.'
      FROM carts c JOIN runs r ON r.cart_id = c.id WHERE c.status = 'open') AS taken
ORDER BY cart_id, step_index;

INSERT INTO orders (store_id, order_key, cart_id, currency, total, discount_total, paid,
                    placed_at, received_at, recovered, attributed_message_id, attribution,
                    status, test, refunded)
SELECT 'bench', 'o' || c.id, c.id, 'DKK', '250', '0', {true}, {later_cart_120},
       {later_cart_120}, CASE WHEN c.id % 2 = 0 AND m.id IS NOT NULL THEN {true} ELSE {false} END,
       CASE WHEN c.id % 2 = 0 THEN m.id END, CASE WHEN c.id % 2 = 0 AND m.id IS NOT NULL
       THEN 'send' END, 'open', {false}, '0'
FROM carts c LEFT JOIN messages m ON m.cart_id = c.id WHERE c.status = 'purchased'
ORDER BY c.id
"""


def _ago(dialect: str, seconds: str) -> str:
    if dialect == "postgresql":
        return f"CAST(:now AS timestamptz) - make_interval(secs => {seconds})"
    return f"strftime('%Y-%m-%d %H:%M:%S', :now, '-' || ({seconds}) || ' seconds') || '.000000'"


def _later(dialect: str, column: str, minutes: int) -> str:
    if dialect == "postgresql":
        return f"{column} + interval '{minutes} minutes'"
    return (
        f"strftime('%Y-%m-%d %H:%M:%S', substr({column}, 1, 19), '+{minutes} minutes') || '.000000'"
    )


def statements(dialect: str) -> list[str]:
    """The seed in the dialect's words, one statement each."""
    words = dict(_PG if dialect == "postgresql" else _SQLITE)
    json = words.pop("json")
    words |= {
        "ago_recent": _ago(dialect, "(CAST(:n - g AS bigint) * 30 * 86400) / :recent"),
        "ago_old": _ago(
            dialect, f"30 * 86400 + (CAST(:n - :recent - g AS bigint) * {DAYS} * 86400) / :n"
        ),
        "ago_minute": _ago(dialect, "60"),
        "json_empty": json.format("'{}'"),
        "json_a": json.format('\'{"cart-sms.step1": "a"}\''),
        "json_b": json.format('\'{"cart-sms.step1": "b"}\''),
        "later_created_30": _later(dialect, "c.created_at", 30),
        "later_message_10": _later(dialect, "created_at", 10),
        "later_cart_120": _later(dialect, "c.created_at", 120),
    }
    return [s.format(**words) for s in _STATEMENTS.split(";") if s.strip()]


def seed(engine: Engine, carts: int, recent: int, now: datetime) -> None:
    """Empty the tables and write the history, in one transaction; then refresh statistics."""
    dialect = engine.dialect.name
    values: dict[str, Any] = {"n": carts, "due": DUE, "recent": recent}
    values["failed"] = carts * FAILED // 100
    values["now"] = now if dialect == "postgresql" else now.strftime("%Y-%m-%d %H:%M:%S")
    with engine.begin() as conn:
        if dialect == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(TABLES):
                conn.execute(text(f"DELETE FROM {table}"))
        for statement in statements(dialect):
            conn.execute(text(statement), values)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE"))
