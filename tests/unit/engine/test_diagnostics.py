"""Abandonment diagnostics over a synthetic week: a payment-stage spike on the last day raises
exactly one alert, for that stage; a steady week raises none."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from cartback.clock import FakeClock
from cartback.config.alerts import AlertsConfig
from cartback.domain.checkout import Alert
from cartback.domain.records import CartContents, CartStatus
from cartback.engine.alert_notify import AlertNotifier
from cartback.engine.diagnostics import AlertWatch, diagnose
from cartback.testing import FakeGateway, InMemoryStore

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)
WEEK_END = MONDAY + timedelta(days=7)
USUAL = ["contact"] * 8 + ["shipping_address"] * 5 + ["shipping_method"] * 4 + ["payment"] * 3
SPIKE = ["contact"] * 5 + ["shipping_address"] * 3 + ["shipping_method"] * 2 + ["payment"] * 10


def _week(spike: bool) -> InMemoryStore:
    """Sixty abandoned carts a day, spread over the day; the last day as `spike` says."""
    store = InMemoryStore()
    with store.transaction() as tx:
        for day in range(7):
            mix = SPIKE if spike and day == 6 else USUAL
            for n in range(60):
                at = MONDAY + timedelta(days=day, minutes=24 * n)
                contents = CartContents(
                    store_id="acme",
                    cart_key=f"d{day}-{n}",
                    currency="DKK",
                    total=Decimal("100"),
                    occurred_at=at,
                    last_activity_at=at,
                    email=f"s{day}-{n}@example.com",
                    checkout_stage=mix[n % len(mix)],
                    source_name="web" if n % 2 else "iphone",
                )
                cart, _ = tx.carts.upsert(contents, at)
                tx.carts.change(cart.id, status=CartStatus.ABANDONED, abandoned_at=at)
    return store


def _watch(store: InMemoryStore, told: list[Alert]) -> AlertWatch:
    clock = FakeClock(WEEK_END)
    return AlertWatch(store, clock, [("acme", "Europe/Copenhagen")], AlertsConfig(), told.append)


def test_a_payment_spike_on_the_last_day_raises_one_alert_for_that_stage() -> None:
    store, told = _week(spike=True), []
    watch = _watch(store, told)

    assert watch.run() == 1
    [alert] = told
    assert (alert.stage, alert.day, alert.carts, alert.total) == ("payment", "2026-11-09", 30, 60)
    assert alert.share == 0.5 and alert.baseline == 0.15
    assert "30 of 60 abandoned carts stopped at payment (50%), against 15% usually" in alert.detail
    assert watch.run() == 0  # once a day
    with store.reading() as tx:
        assert [a.stage for a in tx.diagnostics.alerts("acme", MONDAY)] == ["payment"]


def test_a_steady_week_raises_none() -> None:
    told: list[Alert] = []
    assert _watch(_week(spike=False), told).run() == 0
    assert told == []


def test_the_table_per_stage_with_its_baseline_and_sources() -> None:
    found = diagnose(
        _week(spike=True), "acme", WEEK_END - timedelta(days=1), WEEK_END, AlertsConfig()
    )
    assert (found.carts, found.baseline_carts) == (60, 360)
    rows = {row.stage: row for row in found.stages}
    assert list(rows) == ["contact", "shipping_address", "shipping_method", "payment"]
    assert (rows["payment"].carts, rows["payment"].baseline_carts) == (30, 54)
    assert [row.stage for row in found.raised] == ["payment"]
    assert found.sources == {"source_name": {"iphone": 30, "web": 30}}


def test_a_short_window_is_compared_with_the_same_hours_of_earlier_days() -> None:
    since = WEEK_END - timedelta(hours=6)
    found = diagnose(_week(spike=False), "acme", since, WEEK_END, AlertsConfig())
    assert found.carts == 15 and found.baseline_carts == 6 * 15


def test_an_alert_is_posted_to_the_webhook_and_mailed() -> None:
    posted: list[dict] = []

    def hook(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(204)

    mail = FakeGateway(FakeClock(WEEK_END))
    notify = AlertNotifier(
        "https://hooks.example/cartback", "owner@shop.example", mail, httpx.MockTransport(hook)
    )
    told: list[Alert] = []
    _watch(_week(spike=True), told).run()
    notify(told[0])

    [body] = posted
    assert (body["type"], body["store"], body["stage"], body["share"]) == (
        "checkout_stage_alert",
        "acme",
        "payment",
        0.5,
    )
    [email] = mail.sent
    assert email.to == "owner@shop.example" and "stop at payment" in (email.subject or "")


def test_a_failing_webhook_is_a_warning_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    failing = httpx.MockTransport(lambda request: httpx.Response(500))
    told: list[Alert] = []
    _watch(_week(spike=True), told).run()
    AlertNotifier("https://hooks.example/x", None, None, failing)(told[0])
    assert "alert webhook failed" in caplog.text
