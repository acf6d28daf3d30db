"""The decisions taken about a cart's run: its timeline, written as they are taken or held in
a batch and written together (one statement of several rows)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql

from cartback.domain.records import DecisionEntry
from cartback.store.sql.direct import execute
from cartback.store.tables import decisions

_ADD_DECISION = insert(decisions)
_ROWS_AT_ONCE = 16


@cache
def _decision_rows(count: int) -> Any:
    """`count` decisions in one INSERT, each value as `<column>_<row>`; built once per count."""
    columns = [column for column in decisions.c if column.name != "id"]
    # Typed: SQLAlchemy gives a value its column's type (and bind processor) in the first row
    # only.
    rows = [
        {c.name: bindparam(f"{c.name}_{n}", type_=c.type) for c in columns} for n in range(count)
    ]
    return insert(decisions).values(rows)


def _rows_values(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Held decisions' values as `_decision_rows(len(rows))` takes them."""
    return {f"{name}_{n}": value for n, row in enumerate(rows) for name, value in row.items()}


# PostgreSQL: held decisions as one array per column, `decision_<column>`, in their order, for a
# statement that writes them beside its own rows (`SqlMessages.add`). Its text and its count of
# values are the same for any number of decisions, so psycopg keeps its parsing of the statement:
# one of over 50 values it parses again at every call (a row of decisions is nine), and the
# message's statement with two rows had 53 (a twelfth of a sending worker's CPU).
_ARRAY_COLUMNS = [column for column in decisions.c if column.name != "id"]
_GIVEN = (
    func.unnest(
        *(bindparam(f"decision_{c.name}", type_=postgresql.ARRAY(c.type)) for c in _ARRAY_COLUMNS)
    )
    .table_valued(*(c.name for c in _ARRAY_COLUMNS), with_ordinality="place")
    .render_derived()
)
DECISION_ARRAYS = insert(decisions).from_select(
    [c.name for c in _ARRAY_COLUMNS],
    select(*(_GIVEN.c[c.name] for c in _ARRAY_COLUMNS)).order_by(_GIVEN.c.place),
)


def arrays_values(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Held decisions' values as `DECISION_ARRAYS` takes them."""
    return {f"decision_{c.name}": [row[c.name] for row in rows] for c in _ARRAY_COLUMNS}


class SqlDecisions:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._held: list[dict[str, Any]] | None = None  # in a batch: the rows to write

    def add(self, entry: DecisionEntry) -> None:
        # The values apart from the statement: one cached statement for every decision.
        values = {
            "cart_id": entry.cart_id,
            "run_id": entry.run_id,
            "flow_id": entry.flow_id,
            "step_index": entry.step_index,
            "at": entry.at,
            "action": str(entry.action),
            "reason": str(entry.reason),
            "detail": entry.detail,
            "until": entry.until,
        }
        if self._held is not None:
            self._held.append(values)
            return
        execute(self.conn, _ADD_DECISION, values)

    @contextmanager
    def batch(self) -> Iterator[None]:
        if self._held is not None:  # within another: that one writes them
            yield
            return
        self._held = []
        try:
            yield
            self._write_held()
        finally:
            self._held = None

    def _write_held(self) -> None:
        """The held decisions in one statement, where a list of values runs one insert each
        (pipelined by psycopg, one round trip all the same, and a fifth more of the client's CPU
        for two rows): on PostgreSQL as arrays (`DECISION_ARRAYS`, one text for any count), on
        SQLite one INSERT of several rows (of at most `_ROWS_AT_ONCE`)."""
        held = self._held
        if not held:
            return
        if self.conn.dialect.name == "postgresql":
            execute(self.conn, DECISION_ARRAYS, arrays_values(held))
            held.clear()
            return
        for start in range(0, len(held), _ROWS_AT_ONCE):
            rows = held[start : start + _ROWS_AT_ONCE]
            execute(self.conn, _decision_rows(len(rows)), _rows_values(rows))
        held.clear()

    def take_held(self) -> list[dict[str, Any]]:
        """The decisions held in this batch, for a statement that writes them beside its own
        rows (`DECISION_ARRAYS`, `arrays_values`), no longer held here; none when not in a
        batch."""
        held = self._held
        if not held:
            return []
        taken = list(held)
        held.clear()
        return taken

    def for_cart(self, cart_id: int) -> list[DecisionEntry]:
        self._write_held()
        rows = self.conn.execute(
            select(decisions).where(decisions.c.cart_id == cart_id).order_by(decisions.c.id)
        )
        return [
            DecisionEntry(
                cart_id=row.cart_id,
                at=row.at,
                action=row.action,
                reason=row.reason,
                detail=row.detail,
                run_id=row.run_id,
                flow_id=row.flow_id,
                step_index=row.step_index,
                until=row.until,
                id=row.id,
            )
            for row in rows
        ]
