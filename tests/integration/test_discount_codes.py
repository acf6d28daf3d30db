"""The discount code pool on SQLite and PostgreSQL: import, claim, and claims that race."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from cartback.domain.discounts import clean_codes
from cartback.domain.records import CartContents, CodeImport
from cartback.store.sql import SqlStore
from cartback.store.tables import discount_codes

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
STORE = "acme"


def make_carts(db: Engine, count: int, store_id: str = STORE) -> list[int]:
    with SqlStore(db).transaction() as tx:
        return [
            tx.carts.upsert(
                CartContents(
                    store_id=store_id,
                    cart_key=f"cart-{index}",
                    currency="DKK",
                    total=Decimal("100.00"),
                    occurred_at=NOW,
                    last_activity_at=NOW,
                ),
                NOW,
            )[0].id
            for index in range(count)
        ]


def import_codes(
    db: Engine, codes: list[str], expires_at: datetime | None = None, store_id: str = STORE
) -> CodeImport:
    with SqlStore(db).transaction() as tx:
        return tx.codes.import_codes(store_id, clean_codes(codes), NOW, expires_at)


def claim(db: Engine, cart_id: int, now: datetime = NOW, store_id: str = STORE) -> str | None:
    with SqlStore(db).transaction() as tx:
        return tx.codes.claim(store_id, cart_id, now)


def remaining(db: Engine, now: datetime = NOW) -> int:
    with SqlStore(db).reading() as tx:
        return tx.codes.remaining(STORE, now)


# --- import -----------------------------------------------------------------------------------


def test_importing_the_same_codes_twice_adds_them_once(db: Engine) -> None:
    first = import_codes(db, ["SAVE-A", "SAVE-B", "SAVE-C"])
    second = import_codes(db, ["SAVE-B", "SAVE-C", "SAVE-D"])

    assert first == CodeImport(added=3, duplicates=0)
    assert second == CodeImport(added=1, duplicates=2)
    assert remaining(db) == 4


def test_codes_repeated_within_one_import_count_as_duplicates(db: Engine) -> None:
    assert import_codes(db, ["A1", " A1 ", "B2"]) == CodeImport(added=2, duplicates=1)


def test_the_same_code_may_exist_in_two_stores(db: Engine) -> None:
    import_codes(db, ["SHARED"])
    result = import_codes(db, ["SHARED"], store_id="other")

    assert result.added == 1


def test_a_large_import_is_counted_right(db: Engine) -> None:
    codes = [f"BULK-{index:05d}" for index in range(1234)]

    assert import_codes(db, codes).added == 1234
    assert import_codes(db, codes) == CodeImport(added=0, duplicates=1234)


def test_an_empty_code_is_refused(db: Engine) -> None:
    with pytest.raises(ValueError, match="empty"):
        import_codes(db, ["OK", "  "])


# --- claim ------------------------------------------------------------------------------------


def test_claims_hand_out_each_code_once_until_the_pool_is_empty(db: Engine) -> None:
    import_codes(db, ["C1", "C2", "C3"])
    cart_ids = make_carts(db, 4)

    claimed = [claim(db, cart_id) for cart_id in cart_ids]

    assert claimed[:3] == ["C1", "C2", "C3"]
    assert claimed[3] is None
    assert remaining(db) == 0


def test_a_claimed_code_records_its_cart_and_time(db: Engine) -> None:
    import_codes(db, ["C1"])
    (cart_id,) = make_carts(db, 1)

    claim(db, cart_id)

    with db.connect() as conn:
        row = conn.execute(select(discount_codes)).one()
    assert row.used_by_cart_id == cart_id
    assert row.used_at == NOW


def test_a_cart_claiming_again_gets_its_own_code_back(db: Engine) -> None:
    import_codes(db, ["C1", "C2"])
    (cart_id,) = make_carts(db, 1)

    assert claim(db, cart_id) == "C1"
    assert claim(db, cart_id) == "C1"
    assert remaining(db) == 1


def test_expired_codes_are_never_claimed(db: Engine) -> None:
    import_codes(db, ["OLD-1", "OLD-2"], expires_at=NOW + timedelta(days=1))
    import_codes(db, ["FOREVER"])
    cart_ids = make_carts(db, 3)
    later = NOW + timedelta(days=2)

    assert remaining(db, later) == 1
    assert claim(db, cart_ids[0], later) == "FOREVER"
    assert claim(db, cart_ids[1], later) is None


def test_a_code_expiring_exactly_now_is_expired(db: Engine) -> None:
    import_codes(db, ["EDGE"], expires_at=NOW)
    (cart_id,) = make_carts(db, 1)

    assert claim(db, cart_id) is None


def test_claims_only_take_codes_of_the_carts_store(db: Engine) -> None:
    import_codes(db, ["OTHER-1"], store_id="other")
    (cart_id,) = make_carts(db, 1)

    assert claim(db, cart_id) is None


def test_concurrent_claims_never_hand_out_a_code_twice(db: Engine) -> None:
    import_codes(db, [f"RACE-{index:02d}" for index in range(60)])
    cart_ids = make_carts(db, 100)
    results: dict[int, list[str | None]] = {0: [], 1: []}
    barrier = threading.Barrier(2)

    def worker(number: int) -> None:
        barrier.wait()
        for cart_id in cart_ids[number::2]:
            results[number].append(claim(db, cart_id))

    threads = [threading.Thread(target=worker, args=(number,)) for number in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    handed_out = [code for codes in results.values() for code in codes if code is not None]
    assert len(results[0]) == len(results[1]) == 50
    assert len(handed_out) == 60
    assert len(set(handed_out)) == 60
    assert remaining(db) == 0
    with db.connect() as conn:
        owners = conn.execute(select(discount_codes.c.used_by_cart_id)).scalars().all()
    assert len(set(owners)) == 60
