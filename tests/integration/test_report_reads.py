"""How the report's cells read a period's assigned carts and what hangs off them (runs,
messages, orders, clicks, opens), on both databases with statistics: on PostgreSQL as one range
of cart ids when the period's carts lie together (ids grow with time: a month's carts are the
newest), cart by cart where they are spread among other stores' carts; the same figures either
way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text

from cartback.domain.cells import Cell, CellsAsked, Per
from cartback.store.sql import SqlStore
from cartback.store.sql import cells as sql_cells
from cartback.store.tables import carts, clicks, decisions, links, messages, opens, orders, runs
from tests.contract.test_cells import summed
from tests.integration.plans import plans

PERIOD = datetime(2026, 11, 1, tzinfo=UTC)
ASKED = CellsAsked("acme", PERIOD, timedelta(days=5))
TABLES = ("runs", "messages", "orders", "clicks", "opens")
INDEXES = (
    "ix_runs_assigned",
    "ix_messages_cart_id",
    "ix_orders_cart_id",
    "ix_clicks_cart_id_at",
    "ix_opens_cart_id_at",
)


def seed(db: Engine, stores: int, old: int = 15_000, recent: int = 1_000) -> None:
    """`old` carts in the 300 days before the period and `recent` in it, ids in time order,
    the stores taking turns (every `stores`-th cart is acme's). Two in three are abandoned,
    assigned and sent an SMS with a link; a quarter of those are clicked, a fifth opened, and
    half bought within the window."""
    rows: dict[str, list[dict[str, Any]]] = {
        name: [] for name in ("c", "r", "m", "l", "k", "o", "p")
    }
    for n in range(1, old + recent + 1):
        if n <= old:
            at = PERIOD - timedelta(days=300) + timedelta(minutes=n * 28)
        else:
            at = PERIOD + timedelta(minutes=(n - old) * 40)
        store, abandoned = "acme" if n % stores == 0 else f"s{n % stores}", n % 3 != 0
        rows["c"].append(_cart(n, store, at, abandoned))
        rows["r"].append(_run(n, at, abandoned))
        if not abandoned:
            continue
        sent = at + timedelta(minutes=31)
        rows["m"].append(_message(n, store, sent))
        rows["l"].append(
            {
                "code": f"l{n}",
                "message_id": f"m{n}",
                "cart_id": n,
                "target_url": "https://acme.example/cart",
                "created_at": sent,
            }
        )
        if n % 4 == 1:
            rows["k"].append(
                {
                    "code": f"l{n}",
                    "message_id": f"m{n}",
                    "cart_id": n,
                    "at": sent + timedelta(minutes=5),
                    "bot": False,
                }
            )
        if n % 5 == 2:
            rows["p"].append(
                {
                    "message_id": f"m{n}",
                    "cart_id": n,
                    "at": sent + timedelta(minutes=3),
                    "bot": False,
                }
            )
        if n % 2 == 0:
            rows["o"].append(_order(n, store, sent + timedelta(hours=1)))
    tables = (carts, runs, messages, links, clicks, opens, orders)
    with db.begin() as conn:
        for table, key in zip(tables, "crmlkpo", strict=True):
            conn.execute(table.insert(), rows[key])
    with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def _cart(n: int, store: str, at: datetime, abandoned: bool) -> dict[str, Any]:
    return {
        "id": n, "store_id": store, "cart_key": f"c{n}", "currency": "DKK",
        "total": Decimal("100"), "items": [], "discount_codes": [],
        "status": "abandoned" if abandoned else "purchased", "occurred_at": at,
        "last_activity_at": at, "created_at": at, "updated_at": at,
        "abandoned_at": at + timedelta(minutes=30) if abandoned else None,
    }  # fmt: skip


def _run(n: int, at: datetime, abandoned: bool) -> dict[str, Any]:
    return {
        "id": n, "cart_id": n, "flow_id": "cart-sms", "step_index": 0, "status": "done",
        "created_at": at, "updated_at": at, "holdout": n % 10 == 1 if abandoned else None,
        "arms": {"cart-sms.step1": "ab"[n % 2]} if abandoned else None,
    }  # fmt: skip


def _message(n: int, store: str, at: datetime) -> dict[str, Any]:
    return {
        "id": f"m{n}", "store_id": store, "cart_id": n, "run_id": n, "flow_id": "cart-sms",
        "step_index": 0, "channel": "sms", "provider": "outbox", "recipient": "+4520000000",
        "body": "Your basket is saved", "segments": 1, "cost": Decimal("0.30"),
        "currency": "DKK", "link_code": f"l{n}", "status": "sent", "attempts": 1,
        "created_at": at, "sent_at": at,
    }  # fmt: skip


def _order(n: int, store: str, at: datetime) -> dict[str, Any]:
    return {
        "store_id": store, "order_key": f"o{n}", "cart_id": n, "currency": "DKK",
        "total": Decimal("250"), "discount_total": Decimal("0"), "paid": True, "placed_at": at,
        "received_at": at, "recovered": True, "attributed_message_id": f"m{n}",
        "attribution": "send", "status": "open", "test": False, "refunded": Decimal("0"),
    }  # fmt: skip


def _cells(db: Engine, asked: CellsAsked = ASKED) -> tuple[list[Cell], list[str]]:
    """The cells, and the plan of each statement that summed them."""

    def read() -> list[Cell]:
        with SqlStore(db).reading() as tx:
            return tx.measure.cells(asked)

    found, each = plans(db, read, lambda statement: statement.startswith("WITH assigned"))
    return found, ["\n".join(plan) for plan in each]


def _by_range(plan: str) -> bool:
    """Every joined table read from one range of its cart index, none looked up cart by cart
    (only an order with a discount asks its cart's messages whether they carried our code)."""
    ranged = all(index in plan for index in INDEXES) and "(cart_id >= " in plan
    return ranged and "Nested Loop" not in plan


def _cart_by_cart(plan: str) -> bool:
    joined = "Hash Join" in plan or "Merge Join" in plan
    return "Index Cond: (cart_id = " in plan and not joined


def _carts(cells: list[Cell]) -> int:
    return sum(figures[0] for key, figures in summed(cells).items() if len(key) == 6)


def test_a_period_whose_carts_lie_together_is_read_as_one_range_of_ids(db: Engine) -> None:
    seed(db, stores=1)
    found, [plan] = _cells(db)
    assert _carts(found) == 667  # acme's carts abandoned in the period, all assigned
    if db.dialect.name != "postgresql":
        assert "SEARCH runs USING INDEX" in plan and "(cart_id=?)" in plan, plan  # by cart
        return
    assert _by_range(plan), plan
    for table in TABLES:
        assert f"Seq Scan on {table}" not in plan, plan


def test_an_old_cart_abandoned_in_the_period_is_looked_up_apart(db: Engine) -> None:
    """A cart made long ago and abandoned in the period (a returning customer's checkout): the
    period's newest carts are still read as a range, that one cart by its id."""
    seed(db, stores=1)
    with db.begin() as conn:
        conn.execute(
            carts.update().where(carts.c.id == 1).values(abandoned_at=PERIOD + timedelta(days=1))
        )
    found, plans_ = _cells(db)
    assert _carts(found) == 668
    if db.dialect.name == "postgresql":
        newest, older = plans_
        assert _by_range(newest), newest
        assert _cart_by_cart(older), older


def test_a_period_whose_carts_are_spread_sums_the_same_however_it_is_read(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small store among nine others: its period's ids span ten times its carts; the newest
    are read as a range, the rest cart by cart; read all by range or all cart by cart (forced),
    the sums are the same."""
    seed(db, stores=10)
    pg = db.dialect.name == "postgresql"
    for per in Per:
        asked = CellsAsked("acme", PERIOD, timedelta(days=5), per=per)
        both, plans_ = _cells(db, asked)
        assert [_by_range(p) for p in plans_] == ([True, False] if pg else [False]), plans_
        assert _cart_by_cart(plans_[-1]) == pg, plans_
        found = {}
        for span in (0, 10**6):
            with monkeypatch.context() as patched:
                patched.setattr(sql_cells, "SPAN", span)
                found[span], [plan] = _cells(db, asked)
            assert _by_range(plan) == (pg and span > 0), plan
        assert summed(both) == summed(found[0]) == summed(found[10**6])
        assert _carts(both) == 67


def test_a_periods_skips_are_read_from_the_index_of_skips_alone(db: Engine) -> None:
    """The report's count of skips by reason reads the index of the decisions that sent
    nothing (`ix_decisions_skipped_at`), not every decision of the period, on both
    databases."""
    rows = []
    for n in range(1, 3001):
        at = PERIOD + timedelta(minutes=n)
        action, reason = ("skip", "no_consent") if n % 3 == 0 else ("abandon", "abandoned")
        rows.append({"cart_id": n, "at": at, "action": action, "reason": reason, "detail": "-"})
    with db.begin() as conn:
        conn.execute(carts.insert(), [_cart(n, "acme", PERIOD, True) for n in range(1, 3001)])
        conn.execute(decisions.insert(), rows)
    with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")

    def figures() -> Any:
        with SqlStore(db).reading() as tx:
            return tx.reports.figures("acme", "DKK", PERIOD)

    found, [plan] = plans(db, figures, lambda statement: "decisions.reason" in statement)
    assert found.skipped == {"no_consent": 1000}
    assert any("ix_decisions_skipped_at" in line for line in plan), plan
