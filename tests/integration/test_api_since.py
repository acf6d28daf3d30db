"""`since` in the API takes the CLI's forms: a time with its offset, a date, or a span back
from the server's now; a time without an offset, or something else, is refused naming it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.conftest import START, TOKEN, Shop

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _abandoned_since(shop: Shop, since: str) -> int:
    return int(shop.api("/api/report", store="acme", since=since)["carts_abandoned"])


def test_a_span_counts_back_from_the_servers_clock(shop: Shop) -> None:
    shop.checkout()
    assert shop.advance(timedelta(minutes=30)) == 1  # abandoned and sent at START + 30m
    shop.clock.advance(timedelta(hours=2))

    assert _abandoned_since(shop, "1h") == 0
    assert _abandoned_since(shop, "3h") == 1
    assert _abandoned_since(shop, "2h") == 1  # from the very moment it was abandoned
    assert _abandoned_since(shop, "1h59m") == 0
    assert _abandoned_since(shop, "1d") == _abandoned_since(shop, "2026-11-29T12:30:00Z") == 1


def test_a_date_is_midnight_utc(shop: Shop) -> None:
    shop.checkout()
    shop.advance(timedelta(minutes=30))
    assert START.date().isoformat() == "2026-11-30"
    assert _abandoned_since(shop, "2026-11-30") == 1
    assert _abandoned_since(shop, "2026-12-01") == 0


@pytest.mark.parametrize("path", ["/api/report", "/api/diagnostics"])
@pytest.mark.parametrize(
    ("since", "status", "says"),
    [
        ("2026-11-01T00:00:00", 400, "give a time zone"),
        ("yesterday", 422, "a span back from now (7d, 12h, 30m)"),
        ("99999999d", 422, "since:"),
        ("0001-01-01", 422, "since:"),
    ],
)
def test_an_unreadable_since_is_refused_naming_it(
    shop: Shop, path: str, since: str, status: int, says: str
) -> None:
    answer = shop.client.get(path, params={"store": "acme", "since": since}, headers=AUTH)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["message"].startswith("since") and says in error["message"], error


def test_diagnostics_take_a_span(shop: Shop) -> None:
    found = shop.api("/api/diagnostics", store="acme", since="7d")
    assert found["store"] == "acme" and found["carts"] == 0
