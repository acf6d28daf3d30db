"""The plan of a statement the store ran: what a test of an index reads, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, event

T = TypeVar("T")


def planned(db: Engine, run: Callable[[], T], which: Callable[[str], bool]) -> tuple[T, list[str]]:
    """`run`'s result, and the plan (one line per row) of the one statement it ran that `which`
    picks (see `plans`)."""
    result, found = plans(db, run, which)
    [plan] = found
    return result, plan


def plans(
    db: Engine, run: Callable[[], T], which: Callable[[str], bool]
) -> tuple[T, list[list[str]]]:
    """`run`'s result, and the plan (one line per row) of each statement it ran that `which`
    picks, in order: PostgreSQL's EXPLAIN, SQLite's EXPLAIN QUERY PLAN, with the same
    parameters and after the same settings (`SET LOCAL` before it) in one transaction, rolled
    back."""
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        statements.append((statement, parameters))

    event.listen(db, "before_cursor_execute", seen)
    try:
        result = run()
    finally:
        event.remove(db, "before_cursor_execute", seen)
    explain = "EXPLAIN " if db.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    found = []
    with db.connect() as conn:
        for statement, parameters in statements:
            if statement.startswith("SET LOCAL"):
                conn.exec_driver_sql(statement, parameters)
            elif which(statement):
                rows = conn.exec_driver_sql(explain + statement, parameters)
                found.append([str(row[-1]) for row in rows])
        conn.rollback()
    return result, found
