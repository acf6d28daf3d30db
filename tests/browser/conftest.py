"""A real `cartback serve` with a shop's history in it, and Debian's chromium to look at it.

The server runs on a free port with an SQLite file and the outbox SMS provider. Signed Shopify
webhooks give it four carts: one messaged, clicked and recovered; one messaged and left; one
without consent; and one delivery whose body cannot be read. The browser is the system's
chromium driven by Playwright; nothing is downloaded. Without chromium (or Playwright) the tests
are skipped with the reason; in CI they must run.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.acceptance.processes import config_yaml, free_port
from tests.acceptance.test_serve import (
    ACME_STORE,
    API_TOKEN,
    Server,
    checkout_payload,
    encode,
    order_payload,
)
from tests.acceptance.test_serve import PHONE as PERSON  # a phone browser's user agent

CHROMIUM = Path(os.environ.get("CARTBACK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
STORE_TOKEN = "acme-own-dashboard-token"  # the store's own token: a dashboard of Acme alone
OTHER_MOBILE = "+4540123456"
NO_CONSENT_MOBILE = "+4531123456"


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"no chromium at {CHROMIUM} (apt-get install chromium, or set CARTBACK_CHROMIUM)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason + " (in CI the browser tests must run)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Shop:
    server: Server
    recovered_cart: int
    left_cart: int
    failed_delivery: int
    screenshots: Path


def _config(tmp: Path, port: int, outbox: Path) -> Path:
    channels = f"""\
  sms:
    provider: outbox
    path: {outbox}
    sender: Acme
    cost_per_segment: 0.30
  email:
    provider: outbox
    path: {tmp / "email.jsonl"}
"""
    flows = """\
  - id: cart-sms
    store: acme
    abandon_after: 2s
    steps:
      - send: sms
        template: "Hi {{ first_name }}, your basket at {{ store_name }} is saved: {{ link }}"
      - wait: 1d
      - send: email
"""
    path = tmp / "cartback.yaml"
    database = f"sqlite:///{tmp / 'cartback.db'}"
    text = config_yaml(
        database,
        port,
        API_TOKEN,
        stores=ACME_STORE + f"    api_token: {STORE_TOKEN}\n",
        channels=channels,
        flows=flows,
    )
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shop(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    tmp = tmp_path_factory.mktemp("dashboard")
    port = free_port()
    outbox = tmp / "outbox.jsonl"
    config = _config(tmp, port, outbox)
    with Server.started(
        ["serve"], config, tmp, "server", port=port, token=API_TOKEN, outbox=outbox
    ) as server:
        yield _history(server, tmp)


def _history(server: Server, tmp: Path) -> Shop:
    recovered = checkout_payload(token="checkout-recovered")
    left = checkout_payload(token="checkout-left")
    left["sms_marketing_phone"] = OTHER_MOBILE
    left["email"] = left["customer"]["email"] = "left@example.com"
    refused = checkout_payload(token="checkout-no-consent")
    refused["buyer_accepts_sms_marketing"] = False
    refused["sms_marketing_phone"] = NO_CONSENT_MOBILE
    refused["email"] = refused["customer"]["email"] = "no-consent@example.com"
    for checkout in (recovered, left, refused):
        answer = server.webhook("checkouts/create", encode(checkout))
        assert answer.status_code == 200, answer.text
    garbled = server.webhook("checkouts/update", b"<html>not json</html>")
    assert garbled.status_code == 400, garbled.text

    def two_sms() -> list[dict[str, Any]] | None:
        lines = server.sms_lines()
        return lines if len(lines) >= 2 else None

    lines = server.wait_for("for two SMS in the outbox", two_sms)
    first = next(line for line in lines if line["to"] != OTHER_MOBILE)
    link = re.search(rf"{re.escape(server.public_url)}/r/[A-Za-z0-9_-]+", first["text"])
    assert link is not None, first["text"]
    clicked = server.http.get(link.group(0), follow_redirects=False, headers=PERSON)
    assert clicked.status_code == 302
    answer = server.webhook("orders/create", encode(order_payload(recovered)))
    assert answer.status_code == 200, answer.text
    server.wait_for("for the no-consent skip", lambda: _skipped(server, "no_consent"))

    carts = {c["cart_key"]: c["id"] for c in server.api("/api/carts", store="acme")}
    screenshots = tmp / "screenshots"
    screenshots.mkdir()
    return Shop(
        server=server,
        recovered_cart=carts["checkout-recovered"],
        left_cart=carts["checkout-left"],
        failed_delivery=garbled.json()["delivery_id"],
        screenshots=screenshots,
    )


def _skipped(server: Server, reason: str) -> bool:
    return server.api("/api/report", store="acme")["skipped"].get(reason, 0) > 0


# The README's pictures: a page's screenshot in this run -> its name in docs/screenshots.
README_PICTURES = {
    "overview-laptop.png": "overview.png",
    "cart-laptop.png": "cart.png",
    "cart-phone.png": "cart-phone.png",
}


def keep_screenshot(path: Path) -> None:
    """With CARTBACK_SCREENSHOTS=1, the README's pictures are refreshed from this run."""
    name = README_PICTURES.get(path.name)
    if name is not None and os.environ.get("CARTBACK_SCREENSHOTS") == "1":
        target = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / name)
