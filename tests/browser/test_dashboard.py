"""The dashboard in a real browser, the way a shop owner uses it: log in, look at every page on a
laptop and a phone, replay a failed webhook, log out.

Every page must load without a console error, a failed request, an error answer or a request to
any other host (the dashboard ships its own scripts and styles). The overview must show exactly
the figures of /api/report for the same filters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from tests.acceptance.test_serve import API_TOKEN
from tests.browser.conftest import (
    LAPTOP,
    NO_CONSENT_MOBILE,
    PHONE,
    STORE_TOKEN,
    Shop,
    keep_screenshot,
)

pytestmark = pytest.mark.browser


class Watched:
    """A page whose console, failed requests, error answers and hosts are recorded."""

    def __init__(self, page: Any, host: str) -> None:
        self.page = page
        self.host = host
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("request", self._request)
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _failed(self, request: Any) -> None:
        self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https") and parts.netloc != self.host:
            self.problems.append(f"request to another host: {request.url}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status} for {response.url}")

    def open(self, path: str) -> None:
        self.page.goto(f"http://{self.host}{path}")
        self.page.wait_for_load_state("networkidle")

    def clean(self) -> None:
        assert self.problems == [], self.problems


@pytest.fixture
def owner(browser: Any, shop: Shop) -> Iterator[Watched]:
    """A logged-in browser page at laptop width."""
    context = browser.new_context(viewport=LAPTOP)
    watched = Watched(context.new_page(), f"127.0.0.1:{shop.server.port}")
    log_in(watched)
    yield watched
    context.close()


def log_in(watched: Watched, token: str = API_TOKEN) -> None:
    watched.open("/dashboard")
    page = watched.page
    assert urlsplit(page.url).path == "/login"
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


def figure(page: Any, name: str) -> str:
    value: str = page.locator(f"[data-figure='{name}']").first.get_attribute("data-value")
    return value


def pages(shop: Shop) -> dict[str, str]:
    phone = "+4520123456"
    return {
        "overview": "/dashboard",
        "carts": "/dashboard/carts",
        "cart": f"/dashboard/carts/{shop.recovered_cart}",
        "cart-left": f"/dashboard/carts/{shop.left_cart}",
        "messages": "/dashboard/messages",
        "contacts": f"/dashboard/contacts?q={phone.replace('+', '%2B')}",
        "erase": "/dashboard/contacts/erase?q=%2B4531123456",  # the confirmation step only
        "flows": "/dashboard/flows",
        "diagnostics": "/dashboard/diagnostics",
        "deliveries": "/dashboard/deliveries",
        "delivery": f"/dashboard/deliveries/{shop.failed_delivery}",
    }


# Form controls and buttons a screen reader could not name (no label, no text, no aria-label).
_UNLABELLED = """
[...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href]')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
               && !e.textContent.trim())
  .map(e => e.outerHTML.slice(0, 80))
"""


def unlabelled(page: Any) -> list[str]:
    found: list[str] = page.evaluate(_UNLABELLED)
    return found


def test_the_dashboard_needs_a_login_and_the_session_cookie_is_locked_down(
    browser: Any, shop: Shop
) -> None:
    context = browser.new_context(viewport=LAPTOP)
    watched = Watched(context.new_page(), f"127.0.0.1:{shop.server.port}")
    page = watched.page

    watched.open("/")
    assert urlsplit(page.url).path == "/login", "/ leads to the dashboard, which needs a login"
    page.screenshot(path=str(shop.screenshots / "login-laptop.png"))
    page.get_by_label("API token").fill("not-the-token")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "That is not this server's API token."
    watched.problems = [p for p in watched.problems if "401" not in p]  # the refused login

    page.get_by_label("API token").fill(API_TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path == "/dashboard"
    assert page.get_by_role("heading", name="Overview", level=1).is_visible()
    session = next(c for c in context.cookies() if c["name"] == "cartback_session")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["secure"] is False  # public_url is http here; https sets Secure
    assert session["expires"] > 0, "the session cookie expires"

    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path == "/login"
    watched.open("/dashboard/carts")
    assert urlsplit(page.url).path == "/login", "logged out: the pages are closed again"
    watched.clean()
    context.close()


def test_every_page_loads_cleanly_on_a_laptop_and_a_phone(owner: Watched, shop: Shop) -> None:
    for width_name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        owner.page.set_viewport_size(viewport)
        for name, path in pages(shop).items():
            owner.open(path)
            assert owner.page.locator("h1").count() == 1, f"{name}: one page heading"
            shot = shop.screenshots / f"{name}-{width_name}.png"
            owner.page.screenshot(path=str(shot), full_page=True)
            keep_screenshot(shot)
            assert unlabelled(owner.page) == [], f"{name}: every control has a label"
            overflow = owner.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways at {width_name} width"
    owner.clean()


def test_the_overview_shows_the_figures_of_the_report(owner: Watched, shop: Shop) -> None:
    for query in ("", "?period=7d", "?period=all", "?since=2020-01-01"):
        owner.open(f"/dashboard{query}")
        page = owner.page
        api_query = page.locator("[data-report-query]").get_attribute("data-report-query")
        path, _, params = api_query.partition("?")
        assert path == "/api/report"
        report = shop.server.http.get(
            api_query, headers={"Authorization": f"Bearer {API_TOKEN}"}
        ).json()
        assert ("since=" in params) == (query != "?period=all"), api_query
        for name in ("recovered_revenue", "spend", "discount_cost", "roas"):
            assert Decimal(figure(page, name)) == Decimal(report[name]), (name, query)
        for name in ("messages_sent", "messages_delivered", "clicks"):
            assert int(figure(page, name)) == report[name], (name, query)
        stages = {
            s.get_attribute("data-stage"): int(s.get_attribute("data-value"))
            for s in page.locator("[data-stage]").all()
        }
        assert stages["abandoned"] == report["carts_abandoned"] == 3
        assert stages["recovered"] == report["orders_recovered"] == 1
        assert stages["eligible"] == stages["messaged"] == 2  # consent held one back
        assert stages["clicked"] == 1 and stages["carts"] == 3
        skipped = {
            r.get_attribute("data-reason"): int(r.get_attribute("data-value"))
            for r in page.locator("[data-reason]").all()
        }
        assert skipped == report["skipped"]
        assert report["recovered_revenue"] == "404.95"
        revenue = page.locator("[data-figure='recovered_revenue'] .kpi-value").inner_text()
        assert "404,95" in revenue, "money in the store's locale (da_DK: comma decimals)"
    assert page.locator("#daily-chart canvas").count() >= 1, "the chart is drawn"
    owner.clean()


def test_a_cart_page_tells_its_story_in_plain_words(owner: Watched, shop: Shop) -> None:
    owner.open(f"/dashboard/carts/{shop.recovered_cart}")
    page = owner.page
    timeline = page.locator(".timeline").inner_text()
    for words in ("Cart abandoned", "SMS message sent", "Link followed", "Order placed"):
        assert words in timeline, (words, timeline)
    assert "Won back by the SMS" in page.locator(".attribution").inner_text()
    assert "1 click" in page.locator(".message-facts").inner_text()
    assert "IPod Nano" in page.locator("#items-title + .table-wrap").inner_text()

    owner.open("/dashboard/carts?status=abandoned")
    listed = page.locator("tbody tr[data-cart-id]")
    assert listed.count() == 2  # the cart left alone and the one without consent
    owner.open("/dashboard/carts?q=left%40example")
    assert [r.get_attribute("data-cart-id") for r in listed.all()] == [str(shop.left_cart)]
    owner.clean()


def test_a_failed_delivery_is_replayed_from_the_page(owner: Watched, shop: Shop) -> None:
    owner.open("/dashboard/deliveries")
    page = owner.page
    row = page.locator(f"tr[data-delivery-id='{shop.failed_delivery}']")
    assert "not JSON" in row.inner_text()
    row.get_by_role("link", name="Review and replay").click()
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name=f"Replay delivery {shop.failed_delivery}").click()
    page.wait_for_load_state("networkidle")
    result = page.locator("#replay-result").inner_text()
    assert f"Delivery {shop.failed_delivery} was replayed and failed again (attempt 2)" in result
    stored = shop.server.api("/api/deliveries", status="failed")
    assert [d["attempts"] for d in stored if d["id"] == shop.failed_delivery] == [2]
    owner.clean()


def test_a_post_without_the_session_csrf_token_changes_nothing(owner: Watched, shop: Shop) -> None:
    before = shop.server.api("/api/deliveries", status="failed")
    answer = owner.page.request.post(
        f"{shop.server.public_url}/dashboard/deliveries/{shop.failed_delivery}/replay",
        form={"csrf": "guessed"},
    )
    assert answer.status == 403
    assert shop.server.api("/api/deliveries", status="failed") == before


def test_the_keyboard_reaches_the_content_first(owner: Watched) -> None:
    owner.open("/dashboard/carts")
    page = owner.page
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-q", "the search comes next"
    page.keyboard.type("left@example")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("tbody tr[data-cart-id]").count() == 1, "searched from the keyboard"
    owner.clean()


def test_the_flows_page_shows_each_steps_figures_of_the_report(owner: Watched, shop: Shop) -> None:
    owner.open("/dashboard/flows")
    rows = shop.server.api("/api/report", store="acme", flow="cart-sms", by="step")["rows"]
    for row in rows:
        shown = owner.page.locator(f"[data-step='{row['key']}'] dd[data-value]")
        assert int(shown.get_attribute("data-value")) == row["messages"], row["key"]
    assert [row["key"] for row in rows] == ["cart-sms step 1"]
    owner.clean()


def test_a_stores_own_token_opens_a_dashboard_of_that_store(browser: Any, shop: Shop) -> None:
    context = browser.new_context(viewport=LAPTOP)
    watched = Watched(context.new_page(), f"127.0.0.1:{shop.server.port}")
    log_in(watched, STORE_TOKEN)
    page = watched.page
    assert urlsplit(page.url).path == "/dashboard"
    assert page.locator("#f-store").count() == 0, "one store: nothing to choose"
    report = shop.server.http.get(
        "/api/report", headers={"Authorization": f"Bearer {STORE_TOKEN}"}
    ).json()
    assert Decimal(figure(page, "recovered_revenue")) == Decimal(report["recovered_revenue"])
    watched.open("/dashboard/carts")
    assert page.locator("tbody tr[data-cart-id]").count() == 3
    watched.clean()
    context.close()


def test_a_person_is_exported_then_erased_from_the_contacts_page(
    owner: Watched, shop: Shop
) -> None:
    """Last in this file: it erases the shopper without consent (the others read other carts)."""
    owner.open(f"/dashboard/contacts?q=%2B{NO_CONSENT_MOBILE[1:]}")
    page = owner.page
    with page.expect_download() as started:
        page.get_by_role("link", name="Export their data (JSON)").click()
    exported = json.loads(Path(started.value.path()).read_text(encoding="utf-8"))
    assert NO_CONSENT_MOBILE in json.dumps(exported)
    page.get_by_role("link", name="Erase this person…").click()
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name=f"Erase {NO_CONSENT_MOBILE}").click()
    page.wait_for_load_state("networkidle")
    assert "was erased" in page.locator("#erase-result").inner_text()
    carts = shop.server.api("/api/carts", store="acme")
    assert NO_CONSENT_MOBILE not in json.dumps(carts)
    owner.clean()
