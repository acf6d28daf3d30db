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
    assert "lift over the holdout" not in page
    assert 'data-figure="lift_absolute"' not in page


def test_the_overview_shows_the_lift_and_its_interval_where_a_holdout_runs(
    owner: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = measures.lift

    def with_holdout(report: dict[str, object]) -> Lift | None:
        return read({**report, **REPORT})

    monkeypatch.setattr(measures, "lift", with_holdout)
    page = owner.get("/dashboard").text
    assert "lift over the holdout" in page
    assert 'data-figure="lift_absolute" data-value="0.05"' in page
    assert "+5%" in page and "95% interval 0,3% to 9%" in page  # da_DK: comma decimals
    assert "Holdout (no message)" in page and "let more carts through" not in page
