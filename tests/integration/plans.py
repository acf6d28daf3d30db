"""The plan of a statement the store ran: what a test of an index reads, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, event

T = TypeVar("T")


def planned(db: Engine, run: Callable[[], T], which: Callable[[str], bool]) -> tuple[T, list[str]]:
    """`run`'s result, and the plan (one line per row) of the one statement it ran that `which`
    picks: PostgreSQL's EXPLAIN, SQLite's EXPLAIN QUERY PLAN, with the same parameters."""
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        statements.append((statement, parameters))

    event.listen(db, "before_cursor_execute", seen)
    try:
        result = run()
    finally:
        event.remove(db, "before_cursor_execute", seen)
    [(statement, parameters)] = [s for s in statements if which(s[0])]
    explain = "EXPLAIN " if db.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    with db.connect() as conn:
        rows = conn.exec_driver_sql(explain + statement, parameters)
        return result, [str(row[-1]) for row in rows]
