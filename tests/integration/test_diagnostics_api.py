"""GET /api/diagnostics and `cartback diagnostics`, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cartback.cli import main
from cartback.domain.checkout import Alert
from tests.integration.conftest import TOKEN, Shop


def _abandon_four(shop: Shop) -> None:
    for n in range(3):
        shop.checkout(token=f"paying-{n}", gateway="shopify_payments", landing_site="/sale")
    shop.checkout(token="browsing")
    shop.advance(timedelta(minutes=31))


def test_the_stages_of_abandoned_carts_and_the_alerts(shop: Shop) -> None:
    _abandon_four(shop)
    now = shop.clock.now()
    with shop.runtime.store.transaction() as tx:
        tx.diagnostics.add_alert(
            Alert("acme", "payment", now.date().isoformat(), now, 3, 4, 0.75, 0.1, 4.2, "spike")
        )
    found = shop.api("/api/diagnostics", store="acme")

    assert found["store"] == "acme" and found["carts"] == 4 and found["baseline_carts"] == 0
    stages = {row["stage"]: row for row in found["stages"]}
    assert stages["payment"]["carts"] == 3 and stages["payment"]["share"] == 0.75
    assert stages["shipping_address"]["carts"] == 1
    assert not any(row["alert"] for row in found["stages"])  # fewer carts than min_carts
    assert found["sources"] == {"source_name": {"web": 4}, "landing_site": {"/sale": 3}}
    [alert] = found["alerts"]
    assert (alert["stage"], alert["detail"]) == ("payment", "spike")

    later = shop.api("/api/diagnostics", store="acme", since=(now + timedelta(hours=1)).isoformat())
    assert later["carts"] == 0 and later["alerts"] == []


def test_unknown_store_and_naive_since_are_refused(shop: Shop) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answer = shop.client.get("/api/diagnostics", params={"store": "nope"}, headers=headers)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    since = {"store": "acme", "since": "2026-11-01T00:00:00"}
    answer = shop.client.get("/api/diagnostics", params=since, headers=headers)
    assert answer.status_code == 400


def test_the_command_prints_the_table(
    shop: Shop, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _abandon_four(shop)
    config = str(tmp_path / "cartback.yaml")
    assert (
        main(["diagnostics", "--config", config, "--store", "acme", "--since", "2026-11-29"]) == 0
    )
    out = capsys.readouterr().out
    assert "store acme: 4 abandoned carts" in out
    assert "payment" in out and "75%" in out
    assert "by source_name: web 4" in out
