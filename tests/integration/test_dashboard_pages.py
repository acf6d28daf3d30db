"""Dashboard pages that show the report's measurement: what they print from the figures the
report carries, and that they print nothing where the report has none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cartback.api.dashboard import measures
from cartback.api.dashboard.measures import Lift
from tests.integration.conftest import Shop
from tests.integration.test_dashboard import log_in
from tests.unit.test_dashboard_measures import REPORT


@pytest.fixture
def owner(shop: Shop) -> Iterator[TestClient]:
    with TestClient(shop.client.app, base_url="https://testserver") as client:
        log_in(client)
        yield client


def test_the_overview_has_no_lift_without_a_holdout(owner: TestClient) -> None:
    page = owner.get("/dashboard").text
    assert "Lift over the holdout" not in page
    assert 'data-figure="lift_absolute"' not in page


def test_the_overview_shows_the_lift_and_its_interval_where_a_holdout_runs(
    owner: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = measures.lift

    def with_holdout(report: dict[str, object], holdout_runs: bool) -> Lift | None:
        return read({**report, **REPORT}, holdout_runs)

    monkeypatch.setattr(measures, "lift", with_holdout)
    page = owner.get("/dashboard").text
    assert "Lift over the holdout" in page
    assert 'data-figure="lift_absolute" data-value="0.05"' in page
    assert "+5 pts" in page and "95% interval +0,3 pts to +9 pts" in page  # da_DK: 0,3
    assert "90 treated carts" not in page and "900 treated carts ordered" in page
    assert "against 5% of 100 held out" in page and "let more carts through" not in page


def test_the_flows_page_shows_each_experiments_arms_intervals_and_winner(
    owner: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "Results so far" not in owner.get("/dashboard/flows").text, "none configured: none shown"
    read = measures.experiments
    monkeypatch.setattr(measures, "experiments", lambda report: read({**report, **REPORT}))
    page = owner.get("/dashboard/flows").text
    assert 'data-experiment="delay-2026-12"' in page and 'data-winner="fast"' in page
    assert "fast wins" in page and "No winner yet" in page
    assert '11,1%<br><span class="muted small">8,5%\u201314,3%</span>' in page
    assert "97%" in page  # fast's chance of being best
