"""Diagnostics: abandoned carts with their checkout stage and source, and alerts once a day."""

from __future__ import annotations

import pytest

from cartback.domain.checkout import Alert
from cartback.domain.records import CartStatus
from cartback.store.base import Store
from tests.contract.records import HOUR, T0, new_cart


def test_abandoned_carts_in_a_window_keep_their_stage_and_source(store: Store) -> None:
    with store.transaction() as tx:
        paying = new_cart(
            tx,
            checkout_stage="payment",
            source_name="web",
            landing_site="/products/mug",
            referring_site="https://search.example/?q=mug",
        )
        plain = new_cart(tx)
        other = new_cart(tx, store_id="other")
        new_cart(tx)  # never abandoned
        for cart, at in ((paying, T0 + HOUR), (plain, T0 + 2 * HOUR), (other, T0 + HOUR)):
            tx.carts.change(cart.id, status=CartStatus.ABANDONED, abandoned_at=at)
    with store.reading() as tx:
        found = tx.diagnostics.abandoned("acme", T0, T0 + HOUR + HOUR / 2)
        later = tx.diagnostics.abandoned("acme", T0 + HOUR + HOUR, T0 + 3 * HOUR)
    [first] = found
    assert first.abandoned_at == T0 + HOUR and first.stage == "payment"
    assert (first.source_name, first.landing_site) == ("web", "/products/mug")
    assert first.referring_site == "https://search.example/?q=mug"
    assert [(c.abandoned_at, c.stage) for c in later] == [(T0 + 2 * HOUR, None)]


def _alert(stage: str = "payment", day: str = "2026-11-30", **changes: object) -> Alert:
    values: dict[str, object] = {
        "store_id": "acme",
        "stage": stage,
        "day": day,
        "raised_at": T0,
        "carts": 40,
        "total": 100,
        "share": 0.4,
        "baseline": 0.1,
        "z": 8.5,
        "detail": "payment: 40% of abandoned carts, against 10% before",
        **changes,
    }
    return Alert(**values)  # type: ignore[arg-type]


def test_an_alert_is_recorded_once_per_store_stage_and_day(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.diagnostics.add_alert(_alert())
        assert not tx.diagnostics.add_alert(_alert(raised_at=T0 + HOUR))
        assert tx.diagnostics.add_alert(_alert(day="2026-12-01", raised_at=T0 + 24 * HOUR))
        assert tx.diagnostics.add_alert(_alert(stage="shipping_method"))
        assert tx.diagnostics.add_alert(_alert(store_id="other"))
    with store.reading() as tx:
        found = tx.diagnostics.alerts("acme", T0)
        recent = tx.diagnostics.alerts("acme", T0 + HOUR)
    assert (found[0].stage, found[0].day) == ("payment", "2026-12-01")
    assert sorted((a.stage, a.day) for a in found) == [
        ("payment", "2026-11-30"),
        ("payment", "2026-12-01"),
        ("shipping_method", "2026-11-30"),
    ]
    assert found[0].share == pytest.approx(0.4) and found[0].z == pytest.approx(8.5)
    assert found[0].raised_at == T0 + 24 * HOUR and found[0].id > 0
    assert [a.day for a in recent] == ["2026-12-01"]
