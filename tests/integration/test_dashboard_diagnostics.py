"""The Diagnostics page: the stages of /api/diagnostics in words, the sources and the alerts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from cartback.api.dashboard.diagnostics import stage_rows, windows
from cartback.domain.checkout import Alert
from cartback.engine.diagnostics import StageFigures
from tests.integration.conftest import Shop
from tests.integration.test_dashboard_scope import as_store
from tests.integration.test_diagnostics_api import _abandon_four


def test_the_page_shows_the_apis_stages_sources_and_alerts(shop: Shop) -> None:
    owner = as_store(shop, None)
    empty = owner.get("/dashboard/diagnostics")
    assert empty.status_code == 200 and "No abandoned carts in this period" in empty.text

    _abandon_four(shop)
    now = shop.clock.now()
    with shop.runtime.store.transaction() as tx:
        tx.diagnostics.add_alert(
            Alert("acme", "payment", now.date().isoformat(), now, 3, 4, 0.75, 0.1, 4.2, "spike")
        )
    page = owner.get("/dashboard/diagnostics").text
    found = shop.api("/api/diagnostics", store="acme")
    for stage in found["stages"]:
        assert f'data-stage="{stage["stage"]}" data-value="{stage["carts"]}"' in page
    assert "Payment attempted" in page and "75%" in page
    assert "no usual share yet" in page and "Last day" in page
    assert 'data-alert-stage="payment"' in page and "spike" in page
    assert "Landing page" in page and "/sale" in page
    assert owner.get("/dashboard/diagnostics?window=30d").status_code == 200
    assert owner.get("/dashboard/diagnostics?store=nope").status_code == 400


def test_stages_read_in_words_with_the_change_against_usual() -> None:
    [row] = stage_rows([StageFigures("shipping_method", 6, 0.3, 40, 0.12, 2.5, False)])
    assert row.label == "Shipping method chosen"
    assert (row.share, row.baseline_share, row.change) == (
        Decimal("0.3"),
        Decimal("0.12"),
        Decimal("0.18"),
    )


def test_the_periods_are_named_after_the_alerts_window() -> None:
    assert windows(timedelta(hours=24)) == {
        "window": "Last day",
        "7d": "Last 7 days",
        "30d": "Last 30 days",
    }
    assert windows(timedelta(hours=6))["window"] == "Last 6 hours"
