"""Dashboard pages that show the report's measurement: what they print from the figures the
report carries, and that they print nothing where the report has none."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.api.dashboard import measures
from cartback.api.dashboard.measures import Lift
from tests.integration.conftest import CONFIG, Shop, make_runtime
from tests.integration.test_dashboard import log_in
from tests.integration.test_dashboard_scope import as_store
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


def test_a_cart_page_names_its_holdout_and_its_experiment_arm(db_url: str, tmp_path: Path) -> None:
    measured = CONFIG.replace(
        "    abandon_after: 30m\n",
        "    abandon_after: 30m\n    holdout: 50%\n    experiment:\n      id: delay\n"
        "      arms:\n        - {{name: fast, abandon_after: 20m}}\n"
        "        - {{name: slow, abandon_after: 40m}}\n",
    )
    runtime, clock, gateway = make_runtime(db_url, tmp_path, measured)
    with TestClient(create_app(runtime), base_url="https://testserver") as client:
        shop = Shop(runtime, client, clock, gateway)
        for n in range(6):
            shop.checkout(token=f"cart-{n}", email=f"c{n}@example.com")
        shop.advance(timedelta(hours=1))
        owner = as_store(shop, None)
        runs = {c["id"]: shop.api(f"/api/carts/{c['id']}")["run"] for c in shop.api("/api/carts")}
        for cart_id, run in runs.items():
            page = owner.get(f"/dashboard/carts/{cart_id}").text
            assert ("data-held-out" in page) == bool(run["held_out"]), cart_id
            for experiment, arm in dict(run["arms"]).items():
                assert f"Experiment {experiment}" in page and f'data-arm="{arm}"' in page
        assert any(run["held_out"] for run in runs.values()) or any(
            run["arms"] for run in runs.values()
        )
    runtime.store.close()
