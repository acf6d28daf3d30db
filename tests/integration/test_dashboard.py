"""The dashboard on both databases: its figures against the report, its login, its forms.

A cart is abandoned, messaged, clicked and bought on a fake clock; the dashboard's data module
must give the report's figures and per-day series that add up to them, and its pages must stay
closed without a session and refuse a form without the session's CSRF token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.api.dashboard import data, figures, flows
from cartback.api.dashboard.auth import SESSION_COOKIE
from cartback.api.dashboard.models import CartFilters, Overview
from cartback.runtime import Runtime
from tests.integration.conftest import CONFIG, TOKEN, Shop, make_runtime

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def recovered_cart(shop: Shop) -> None:
    checkout = shop.checkout()
    assert shop.advance(timedelta(minutes=30)) == 1
    code = shop.sms.sent[0].text.rsplit("/r/", 1)[1]
    shop.clock.advance(timedelta(hours=1))
    assert shop.client.get(f"/r/{code}", follow_redirects=False).status_code == 302
    shop.clock.advance(timedelta(minutes=10))
    shop.order(checkout, total_price="404.95")


def overview(rt: Runtime, key: str = "30d") -> Overview:
    today = rt.clock.now().astimezone(COPENHAGEN).date()
    chosen = figures.period(key, None, today, COPENHAGEN)
    return data.overview(rt, "acme", chosen, COPENHAGEN, today)


def test_the_overview_has_the_reports_figures_and_days_that_add_up(shop: Shop) -> None:
    recovered_cart(shop)
    shop.checkout(token="no-consent", buyer_accepts_sms_marketing=False, email="x@example.com")
    shop.advance(timedelta(minutes=30))

    view = overview(shop.runtime)
    report = shop.api("/api/report", store="acme", since=view.report.since.isoformat())
    assert view.report_query.startswith("/api/report?store=acme&since=")
    assert view.report.model_dump(mode="json") == report
    counts = {stage.key: stage.count for stage in view.funnel}
    assert counts == {
        "carts": 2,
        "abandoned": 2,
        "eligible": 1,  # the cart without consent was held back
        "messaged": 1,
        "clicked": 1,
        "recovered": 1,
    }
    assert (
        sum(d.revenue for d in view.days)
        == Decimal(report["recovered_revenue"])
        == Decimal("404.95")
    )
    assert sum(d.spend for d in view.days) == Decimal(report["spend"]) == Decimal("0.30")
    assert len(view.days) == 30
    assert {row.reason: row.count for row in view.skips} == report["skipped"]
    assert view.has_carts


def test_carts_are_found_by_status_and_by_part_of_an_address(shop: Shop) -> None:
    recovered_cart(shop)
    shop.checkout(token="second", email="someone.else@example.com", sms_marketing_phone=None)
    rt = shop.runtime
    assert [c.status for c in data.cart_list(rt, CartFilters(status="purchased")).rows] == [
        "purchased"
    ]
    found = data.cart_list(rt, CartFilters(q="SOMEONE.ELSE")).rows
    assert [c.email for c in found] == ["someone.else@example.com"]
    assert data.cart_list(rt, CartFilters(q="100%_")).rows == [], "LIKE characters are literal"
    later = shop.clock.now() + timedelta(days=1)
    assert data.cart_list(rt, CartFilters(since=later)).rows == []


def test_a_cart_page_has_its_clicks_order_and_attribution(shop: Shop) -> None:
    recovered_cart(shop)
    view = data.cart_page(shop.runtime, 1)
    assert view is not None
    [message] = view.messages
    assert message.clicks == 1
    assert view.order is not None and view.order.recovered
    assert view.order.attributed_message == message
    kinds = [item.kind for item in view.timeline]
    assert kinds[0] == "decision" and {"message", "click", "order"} <= set(kinds)
    assert data.cart_page(shop.runtime, 999) is None


@pytest.fixture
def browser_client(shop: Shop) -> Iterator[TestClient]:
    """The app over https (public_url is https, so the session cookie is Secure)."""
    with TestClient(create_app(shop.runtime), base_url="https://testserver") as client:
        yield client


def log_in(client: TestClient, token: str = TOKEN) -> None:
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    answer = client.post(
        "/login", data={"token": token, "csrf": csrf.group(1)}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text


def test_pages_need_a_session_which_expires(shop: Shop, browser_client: TestClient) -> None:
    answer = browser_client.get("/dashboard/carts?status=open", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fdashboard%2Fcarts%3Fstatus%3Dopen"
    log_in(browser_client)
    cookie = browser_client.cookies.get(SESSION_COOKIE)
    assert cookie is not None
    assert browser_client.get("/dashboard/carts", follow_redirects=False).status_code == 200
    shop.clock.advance(timedelta(hours=13))
    assert browser_client.get("/dashboard/carts", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_secure_httponly_and_strict(browser_client: TestClient) -> None:
    form = browser_client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    answer = browser_client.post(
        "/login", data={"token": TOKEN, "csrf": csrf.group(1)}, follow_redirects=False
    )
    [session] = [c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    flags = {flag.strip().lower() for flag in session.split(";")[1:]}
    assert flags >= {"httponly", "secure", "samesite=strict", "path=/", "max-age=43200"}


def test_a_wrong_token_or_a_forged_login_form_gets_no_session(browser_client: TestClient) -> None:
    form = browser_client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    wrong = browser_client.post("/login", data={"token": "nope", "csrf": csrf.group(1)})
    assert wrong.status_code == 401 and "That is not this server" in wrong.text
    forged = browser_client.post("/login", data={"token": TOKEN, "csrf": "made-up"})
    assert forged.status_code == 401 and "expired" in forged.text
    assert browser_client.cookies.get(SESSION_COOKIE) is None


def test_a_form_without_the_csrf_token_or_from_another_site_is_refused(
    shop: Shop, browser_client: TestClient
) -> None:
    garbled = shop.post("checkouts/update", {"not": "a checkout"})
    delivery_id = garbled.json().get("delivery_id")
    log_in(browser_client)
    page = browser_client.get(f"/dashboard/deliveries/{delivery_id}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    path = f"/dashboard/deliveries/{delivery_id}/replay"
    assert browser_client.post(path, data={"csrf": "x"}).status_code == 403
    other_site = {"Origin": "https://evil.example"}
    answer = browser_client.post(path, data={"csrf": csrf.group(1)}, headers=other_site)
    assert answer.status_code == 403
    [stored] = shop.api("/api/deliveries")
    assert stored["attempts"] == 1, "nothing was replayed"
    behind_a_proxy = {"Origin": "https://cb.example"}  # public_url; the Host header differs
    answer = browser_client.post(
        path, data={"csrf": csrf.group(1)}, headers=behind_a_proxy, follow_redirects=False
    )
    assert answer.status_code == 303
    assert shop.api("/api/deliveries")[0]["attempts"] == 2


def test_every_page_answers_with_an_empty_database(browser_client: TestClient) -> None:
    log_in(browser_client)
    for path in (
        "/dashboard",
        "/dashboard?period=all",
        "/dashboard/carts",
        "/dashboard/messages",
        "/dashboard/contacts",
        "/dashboard/contacts?q=%2B4520123456",
        "/dashboard/flows",
        "/dashboard/deliveries",
    ):
        answer = browser_client.get(path)
        assert answer.status_code == 200, (path, answer.text)
    overview = browser_client.get("/dashboard").text
    assert "No carts yet" in overview and "https://cb.example/webhooks/shopify" in overview
    assert browser_client.get("/dashboard/carts/42").status_code == 404
    bad = browser_client.get("/dashboard/carts?since=yesterday")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
    assert browser_client.get("/dashboard?store=nope").status_code == 400
    assert "neither an email" in browser_client.get("/dashboard/contacts?q=hello").text


def test_the_flows_page_warns_when_an_sms_needs_two_segments(db_url: str, tmp_path: Path) -> None:
    long_text = "Hej {{{{ first_name }}}}, din kurv hos {{{{ store_name }}}} venter på dig. " * 3
    config = CONFIG.replace(
        "Hi {{{{ first_name }}}}, your basket at {{{{ store_name }}}} is saved: {{{{ link }}}}",
        long_text + "{{{{ link }}}}",
    )
    runtime, _clock, _gateway = make_runtime(db_url, tmp_path, config)
    [flow] = flows.flow_views(runtime)
    sms_step, wait_step, email_step = flow.steps
    assert sms_step.title == "Step 1: send sms"
    assert "din kurv hos Acme" in sms_step.text and "segments" in sms_step.text
    assert sms_step.warnings and "segments" in sms_step.warnings[0]
    assert wait_step.title == "Step 2: wait 1d" and not wait_step.warnings
    assert "no email channel is configured" in email_step.text
    runtime.store.close()
