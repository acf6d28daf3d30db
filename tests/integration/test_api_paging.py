"""The lists of the API page on by the last row seen (`after`): every row once, in the order
of one long page, however deep, on both databases; a store's page reads that store's rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from cartback.domain.records import Delivery, DeliveryStatus
from cartback.store.sql import SqlStore
from cartback.store.tables import deliveries
from tests.integration.conftest import Shop
from tests.integration.plans import planned


def _walked(shop: Shop, path: str, **params: Any) -> list[Any]:
    seen: list[Any] = []
    after: Any = None
    for _ in range(20):  # more pages than rows: a list that never ends fails
        page = shop.api(path, limit=2, **params, **({} if after is None else {"after": after}))
        if not page:
            return seen
        seen += [row["id"] for row in page]
        after = page[-1]["id"]
    raise AssertionError(f"{path} did not end: {seen}")


def test_carts_and_deliveries_page_on_by_the_last_one_seen(shop: Shop) -> None:
    for n in range(5):
        shop.checkout(token=f"paging-{n}", cart_token=f"cart-{n}")
        shop.clock.advance(timedelta(minutes=1 if n % 2 else 0))
    carts = [row["id"] for row in shop.api("/api/carts")]
    deliveries = [row["id"] for row in shop.api("/api/deliveries")]
    assert len(carts) == 5 and len(deliveries) == 5
    assert _walked(shop, "/api/carts") == carts
    assert _walked(shop, "/api/carts", status="open") == carts
    assert _walked(shop, "/api/deliveries") == deliveries


def test_messages_page_on_by_the_last_one_seen(shop: Shop) -> None:
    for n in range(3):
        phone, email = f"+45201230{n}9", f"buyer{n}@example.com"  # each one's own SMS
        shop.checkout(
            token=f"sent-{n}", cart_token=f"sent-cart-{n}", sms_marketing_phone=phone, email=email
        )
    shop.advance(timedelta(hours=2))
    messages = [row["id"] for row in shop.api("/api/messages")]
    assert len(messages) >= 2
    assert _walked(shop, "/api/messages") == messages


def test_a_small_stores_page_of_deliveries_reads_its_own_rows(db: Engine) -> None:
    """An agency's big shop has thousands of deliveries, a small one a few: the small one's page
    is read through the deliveries' index by store, not by scanning every store's newest
    deliveries for its own (the plan, on both databases, once the statistics are taken)."""
    received = datetime(2026, 11, 2, tzinfo=UTC)
    rows = [
        {
            "platform": "shopify",
            "store_id": "big" if n % 1000 else "small",
            "received_at": received,
            "headers": {},
            "body": b"{}",
            "status": "processed",
        }
        for n in range(1, 4001)
    ]
    with db.begin() as conn:
        conn.execute(deliveries.insert(), rows)
        conn.execute(text("ANALYZE"))
    page, plan = _listed(db, status=None, store_id="small")
    assert [d.store_id for d in page] == ["small"] * 4
    assert "ix_deliveries_store_id_id" in plan, plan


def test_a_page_of_failed_deliveries_reads_the_failed_ones_only(db: Engine) -> None:
    """What to replay, after a bad week long ago: the failed deliveries' page is read through
    their partial index, not by walking back over every delivery since (the pages of 'received'
    ones through theirs); the plan on both databases, with statistics."""
    received = datetime(2026, 11, 2, tzinfo=UTC)
    rows = [
        {
            "platform": "shopify",
            "store_id": "big",
            "received_at": received + timedelta(seconds=n),
            "headers": {},
            "body": b"{}",
            "status": "failed" if 100 <= n < 400 else "processed",
            "error": "broken" if 100 <= n < 400 else None,
        }
        for n in range(6000)
    ]
    with db.begin() as conn:
        conn.execute(deliveries.insert(), rows)
        conn.execute(text("ANALYZE"))
    page, plan = _listed(db, status=DeliveryStatus.FAILED, store_id=None)
    assert len(page) == 100 and {d.status for d in page} == {DeliveryStatus.FAILED}
    assert [d.id for d in page] == sorted((d.id for d in page), reverse=True), "newest first"
    assert "ix_deliveries_failed" in plan, plan
    page, plan = _listed(db, status=DeliveryStatus.FAILED, store_id="big")
    assert len(page) == 100 and {d.status for d in page} == {DeliveryStatus.FAILED}
    assert "ix_deliveries_failed" in plan, plan  # of all stores, or by store
    _, plan = _listed(db, status=DeliveryStatus.RECEIVED, store_id=None)
    assert "ix_deliveries_to_apply" in plan, plan


def _listed(db: Engine, **wanted: Any) -> tuple[list[Delivery], str]:
    """A page of `deliveries.listing`, and the plan of the statement that read it."""

    def listing() -> list[Delivery]:
        with SqlStore(db).reading() as tx:
            return tx.deliveries.listing(limit=100, **wanted)

    page, plan = planned(db, listing, lambda statement: "FROM deliveries" in statement)
    return page, " ".join(plan)
