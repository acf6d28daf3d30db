"""Pools of single-use discount codes, for platforms where cartback cannot create codes itself.

A shop exports codes it made (WooCommerce, Magento, ...) and imports them here; each abandoned
cart that a flow gives a discount claims one. A claimed code stays with its cart.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Insert, Table, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cartback.store.tables import discount_codes

MAX_CODE_LENGTH = 64
HEADER = "code"


class CodeFileError(ValueError):
    """A codes file that cannot be read; `problems` name the line of each."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:20]
        more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
        super().__init__("; ".join(shown) + more)
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    duplicates: int  # already in the pool, or repeated in the same import


def read_codes_csv(source: str | Path) -> list[str]:
    """Codes from a CSV with one code per row; a `code` header row is optional.

    A `Path` is read as a file (UTF-8, a BOM is fine); a `str` is the CSV text itself. Blank
    lines are skipped and codes stripped; codes keep their case and order.
    """
    text = source.read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    codes: list[str] = []
    problems: list[str] = []
    for row in reader:
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if not codes and not problems and len(cells) == 1 and cells[0].lower() == HEADER:
            continue
        problem = _row_problem(cells)
        if problem:
            problems.append(f"line {reader.line_num}: {problem}")
        else:
            codes.append(cells[0])
    if problems:
        raise CodeFileError(problems)
    return codes


def import_codes(
    conn: Connection,
    store_id: str,
    codes: Iterable[str],
    now: datetime,
    *,
    expires_at: datetime | None = None,
) -> ImportResult:
    """Add codes to the store's pool; codes already there (or repeated) are counted, not added."""
    given = [code.strip() for code in codes]
    for code in given:
        problem = _code_problem(code)
        if problem:
            raise ValueError(f"discount code {code!r} {problem}")
    unique = list(dict.fromkeys(given))
    added = 0
    for start in range(0, len(unique), 500):
        batch = unique[start : start + 500]
        rows = [
            {"store_id": store_id, "code": code, "imported_at": now, "expires_at": expires_at}
            for code in batch
        ]
        statement = _insert_ignoring_duplicates(conn, discount_codes).returning(discount_codes.c.id)
        added += len(conn.execute(statement, rows).all())
    return ImportResult(added=added, duplicates=len(given) - added)


def claim_code(conn: Connection, store_id: str, cart_id: int, now: datetime) -> str | None:
    """Give the cart one unused, unexpired code of its store; None when the pool is empty.

    A cart that already holds a live code gets the same one again, so a retried step does not
    use up a second code. Run it in `write_transaction`: PostgreSQL skips codes another
    transaction is claiming (FOR UPDATE SKIP LOCKED), SQLite holds the write lock throughout.
    """
    held = conn.execute(
        select(discount_codes.c.code).where(
            discount_codes.c.store_id == store_id,
            discount_codes.c.used_by_cart_id == cart_id,
            _unexpired(now),
        )
    ).scalar()
    if held is not None:
        return str(held)
    free = (
        select(discount_codes.c.id)
        .where(
            discount_codes.c.store_id == store_id,
            discount_codes.c.used_at.is_(None),
            _unexpired(now),
        )
        .order_by(discount_codes.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    claimed = conn.execute(
        update(discount_codes)
        .where(discount_codes.c.id.in_(free.scalar_subquery()))
        .values(used_by_cart_id=cart_id, used_at=now)
        .returning(discount_codes.c.code)
    ).scalar()
    return None if claimed is None else str(claimed)


def remaining(conn: Connection, store_id: str, now: datetime) -> int:
    """How many codes of the store can still be claimed."""
    count = conn.execute(
        select(func.count())
        .select_from(discount_codes)
        .where(
            discount_codes.c.store_id == store_id,
            discount_codes.c.used_at.is_(None),
            _unexpired(now),
        )
    ).scalar_one()
    return int(count)


def _unexpired(now: datetime) -> Any:
    return or_(discount_codes.c.expires_at.is_(None), discount_codes.c.expires_at > now)


def _insert_ignoring_duplicates(conn: Connection, table: Table) -> Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def _row_problem(cells: list[str]) -> str | None:
    if any(cells[1:]):
        return f"expected one code per row, found {sum(1 for c in cells if c)} values"
    problem = _code_problem(cells[0])
    return f"code {cells[0]!r} {problem}" if problem else None


def _code_problem(code: str) -> str | None:
    if not code:
        return "is empty"
    if len(code) > MAX_CODE_LENGTH:
        return f"is longer than {MAX_CODE_LENGTH} characters"
    if any(char.isspace() for char in code):
        return "contains a space"
    return None
