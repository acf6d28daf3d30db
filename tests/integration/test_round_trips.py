"""What one SMS asks the database: each statement is a round trip, and on PostgreSQL its
client side (the driver, on the path of store/sql/direct.py) and the server's side are most of
the CPU a message costs (see the README's Performance section). A change that adds one to the
send path shows here, named."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from psycopg import _queries as psycopg_queries
from sqlalchemy import event

from tests.integration.conftest import Shop


@contextmanager
def _statements(shop: Shop) -> Iterator[list[str]]:
    engine = shop.runtime.store.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(_kind(statement))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _kind(statement: str) -> str:
    """`SELECT carts`, `INSERT decisions`, `WITH UPDATE messages + INSERT message_attempts`…
    (each statement of a WITH, in its order, then the main one)."""
    words = " ".join(statement.split())
    if not words.startswith("WITH "):
        return _verb_and_table(words)
    parts = []
    while words.startswith(("WITH ", ", ")):
        opened = words.index("(")
        depth, at = 0, opened
        for at in range(opened, len(words)):  # to the parenthesis that closes this statement
            depth += {"(": 1, ")": -1}.get(words[at], 0)
            if depth == 0:
                break
        parts.append(_verb_and_table(words[opened + 1 : at]))
        words = words[at + 1 :].strip()
    return "WITH " + " + ".join([*parts, _verb_and_table(words)])


def _verb_and_table(words: str) -> str:
    verb, _, rest = words.partition(" ")
    table = re.search(r"\b(?:INTO|FROM|UPDATE)\s+(\w+)", words)
    return f"{verb} {table.group(1) if table else rest.split('(')[0].split(' ')[0]}".strip()


def test_a_first_sms_costs_these_statements(shop: Shop) -> None:
    """Claim, abandon and decide (one transaction), then the answer with the run's next move
    (another): on PostgreSQL the claim, a message with its link, and the answer (the attempt,
    its message's outcome and the run's move) are one statement each, the answer's with no
    transaction around it; the abandonment's decisions are written together (on PostgreSQL,
    with the message)."""
    shop.checkout()
    shop.clock.advance(timedelta(minutes=30))
    with _statements(shop) as seen:
        assert shop.tick() == 1
    assert len(shop.sms.sent) == 1
    postgres = shop.runtime.store.kind == "postgresql"
    # SQLite's write transactions begin with a statement (its write lock); PostgreSQL's BEGIN
    # is the driver's own (not seen here), and its claim is no transaction of its own.
    begin = [] if postgres else ["BEGIN IMMEDIATE"]
    claim = (
        ["WITH SELECT runs + UPDATE runs"] if postgres else [*begin, "SELECT runs", "UPDATE runs"]
    )
    # Into the flow, with the cart's holdout and arms, and the cart abandoned with it.
    enter = ["WITH UPDATE runs + UPDATE carts"] if postgres else ["UPDATE runs", "UPDATE carts"]
    lock = ["SELECT pg_advisory_xact_lock"] if postgres else []  # SQLite: its one write lock
    # The message with its link; on PostgreSQL the decisions held so far (abandoned and why,
    # then send) in the same statement, on SQLite together after it.
    message = (
        ["WITH INSERT messages + INSERT decisions + INSERT links"]
        if postgres
        else ["INSERT messages", "INSERT links", "INSERT decisions"]
    )
    # The answer, with the run's move (it waits for its next step): on PostgreSQL one
    # statement that commits itself, no transaction around it.
    answer = (
        ["WITH UPDATE messages + UPDATE runs + INSERT message_attempts"]
        if postgres
        else [*begin, "INSERT message_attempts", "UPDATE messages", "UPDATE runs"]
    )
    assert seen == [
        *claim,
        *begin,
        "SELECT carts",  # the cart, locked
        # (the person's orders and other abandoned carts are read only for a flow's condition:
        # this store's one flow takes every cart)
        *enter,
        *lock,
        "SELECT orders",  # every look-back before a send, one statement (orders first)
        *message,
        *answer,
    ]


def test_the_driver_keeps_its_parsing_of_every_statement_of_a_send(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psycopg parses a statement's text into the server's form once and keeps it, unless the
    statement is over 4,096 bytes or 50 values: then it parses it again at every call (the
    message's statement with two decisions, 53 values, cost a twelfth of a sending worker's
    CPU). A first SMS's statements are each kept."""
    if shop.runtime.store.kind != "postgresql":
        pytest.skip("psycopg's parsing: PostgreSQL only")
    parsed_again: list[bytes] = []
    uncached = psycopg_queries._query2pg_nocache

    def counted(query: bytes, encoding: str) -> Any:
        parsed_again.append(query)
        return uncached(query, encoding)

    monkeypatch.setattr(psycopg_queries, "_query2pg_nocache", counted)
    shop.checkout()
    shop.clock.advance(timedelta(minutes=30))
    with _statements(shop) as seen:
        assert shop.tick() == 1
    assert len(shop.sms.sent) == 1 and len(seen) >= 5
    assert [_kind(query.decode()) for query in parsed_again] == []
