"""Pools of single-use discount codes, for platforms where cartback cannot create codes itself.

A shop exports codes it made (WooCommerce, Magento, ...) and imports them here; each abandoned
cart that a flow gives a discount claims one. A claimed code stays with its cart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, Table, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cartback.domain.discounts import code_problem
from cartback.store.tables import discount_codes


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    duplicates: int  # already in the pool, or repeated in the same import


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
        problem = code_problem(code)
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
