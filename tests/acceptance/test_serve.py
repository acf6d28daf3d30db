"""A real `cartback serve` process, driven over HTTP the way a shop and its owner would.

Each test starts the server on a free port with its own config and database (SQLite file or the
session's PostgreSQL database), sends Shopify's published sample payloads signed exactly like
Shopify signs them, and watches what comes out: SMS lines in the outbox file, redirects, the
REST API. Time is never moved by sleeping a fixed amount: every wait polls for a condition with a
bounded deadline.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.acceptance.processes import Running, config_yaml, free_port

pytestmark = pytest.mark.acceptance

SHOPIFY_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
SHOP_DOMAIN = "acme.myshopify.com"
WEBHOOK_SECRET = "acme-webhook-secret"
API_TOKEN = "acme-api-token"
DANISH_MOBILE = "+4520123456"
API_VERSION = "2026-04"
ACME_STORE = f"""\
  - id: acme
    platform: shopify
    shop_domain: {SHOP_DOMAIN}
    webhook_secret: {WEBHOOK_SECRET}
    name: Acme
    timezone: Europe/Copenhagen
    default_country: DK
    currency: USD
"""  # the `stores:` block of the configs here and in test_channels
PHONE = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)"}  # a person
TEMPLATE = "Hi {{ first_name }}, your basket at {{ store_name }} is saved: {{ link }}"


# --- the server process ------------------------------------------------------------------------


@dataclass
class Server(Running):
    """`cartback serve` with the Shopify store of `write_config`, and its SMS outbox file."""

    outbox: Path = field(kw_only=True)

    def webhook(
        self,
        topic: str,
        body: bytes,
        *,
        webhook_id: str | None = None,
        shop_domain: str = SHOP_DOMAIN,
        signature: str | None = "sign",
    ) -> httpx.Response:
        """POST like Shopify does; `signature="sign"` signs the body with the store's secret."""
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": shop_domain,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-API-Version": API_VERSION,
        }
        if signature == "sign":
            signature = shopify_signature(body, WEBHOOK_SECRET)
        if signature is not None:
            headers["X-Shopify-Hmac-Sha256"] = signature
        return self.http.post("/webhooks/shopify", content=body, headers=headers)

    def sms_lines(self) -> list[dict[str, Any]]:
        if not self.outbox.exists():
            return []
        text = self.outbox.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def shopify_signature(body: bytes, secret: str) -> str:
    """Computed here, independently of cartback, so the test checks the server's verification."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@contextmanager
def api_only(
    tmp_path: Path, write: Callable[[Path, int, Path], None]
) -> Iterator[tuple[Server, Path]]:
    """`cartback serve --no-worker` on the config `write(path, port, outbox)` makes, with the
    config's path (for the workers a test starts beside it)."""
    port = free_port()
    outbox = tmp_path / "outbox.jsonl"
    config = tmp_path / "cartback.yaml"
    write(config, port, outbox)
    with Server.started(
        ["serve", "--no-worker"],
        config,
        tmp_path,
        "serve",
        port=port,
        token=API_TOKEN,
        outbox=outbox,
    ) as running:
        yield running, config


def write_config(path: Path, database_url: str, port: int, outbox: Path) -> None:
    channels = f"""\
  sms:
    provider: outbox
    path: {outbox}
    sender: Acme
    cost_per_segment: 0.30
"""
    flows = f"""\
  - id: cart-sms
    store: acme
    abandon_after: 2s
    steps:
      - send: sms
        template: "{TEMPLATE}"
"""
    config = config_yaml(
        database_url, port, API_TOKEN, stores=ACME_STORE, channels=channels, flows=flows
    )
    path.write_text(config, encoding="utf-8")


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    outbox = tmp_path / "outbox.jsonl"
    config = tmp_path / "cartback.yaml"
    write_config(config, db_url, port, outbox)
    with Server.started(
        ["serve"], config, tmp_path, "server", port=port, token=API_TOKEN, outbox=outbox
    ) as running:
        yield running


# --- payloads ---------------------------------------------------------------------------------


def fixture_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SHOPIFY_FIXTURES / name).read_bytes())
    return data


def now_iso() -> str:
    # Shopify writes timestamps in the shop's offset, e.g. 2021-12-31T19:00:00-05:00.
    return datetime.now(ZoneInfo("Europe/Copenhagen")).isoformat()


def checkout_payload(*, token: str | None = None) -> dict[str, Any]:
    """Shopify's sample checkout, changed only where a real recovery needs it."""
    checkout = copy.deepcopy(fixture_json("checkouts_create.json"))
    # The sample buyer ticked no SMS box and its phones are US placeholders ("555-555-BILL"):
    # give consent and a valid Danish mobile, as a Danish shopper at checkout would.
    checkout["buyer_accepts_sms_marketing"] = True
    checkout["sms_marketing_phone"] = DANISH_MOBILE
    # The sample dates from 2021; the abandonment timer runs from the last update.
    checkout["updated_at"] = now_iso()
    if token is not None:  # several checkouts in one database need their own keys
        checkout["token"] = token
        checkout["cart_token"] = uuid.uuid4().hex
    return checkout


def order_payload(checkout: dict[str, Any]) -> dict[str, Any]:
    """Shopify's sample order, changed into the purchase that completes `checkout`."""
    order = copy.deepcopy(fixture_json("orders_create.json"))
    # The sample has no checkout_token (null in Shopify's sample); a real one names its checkout.
    order["checkout_token"] = checkout["token"]
    # The sample is a cancelled, voided test order; a recovered purchase is none of those.
    order["cancelled_at"] = None
    order["financial_status"] = "paid"
    order["test"] = False
    # Placed now, after the click (microseconds so that it is never "before" it in one second).
    order["created_at"] = now_iso()
    return order


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode("utf-8")


def cart_by_key(server: Server, cart_key: str) -> dict[str, Any]:
    """The cart, once its delivery was applied (that happens right after the answer)."""

    def found() -> list[dict[str, Any]]:
        carts: list[dict[str, Any]] = server.api("/api/carts", store="acme")
        return [c for c in carts if c["cart_key"] == cart_key]

    matching = server.wait_for(f"for cart {cart_key}", found)
    assert len(matching) == 1, matching
    return matching[0]


# --- tests -------------------------------------------------------------------------------------


def test_a_checkout_is_recovered_by_sms_click_and_order(server: Server) -> None:
    checkout = checkout_payload()
    answer = server.webhook("checkouts/create", encode(checkout))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "received"

    lines = server.wait_for("for the SMS in the outbox", server.sms_lines)
    assert len(lines) == 1, lines
    sms = lines[0]
    assert {"message_id", "channel", "to", "from", "text", "sent_at"} <= sms.keys()
    assert sms["channel"] == "sms"
    assert sms["to"] == DANISH_MOBILE
    assert sms["from"] == "Acme"
    assert "John" in sms["text"]  # the nested customer's first name
    assert "Acme" in sms["text"]
    link = re.search(rf"{re.escape(server.public_url)}/r/[A-Za-z0-9_-]+", sms["text"])
    assert link is not None, sms["text"]

    click = server.http.get(link.group(0), follow_redirects=False, headers=PHONE)
    assert click.status_code == 302, click.text
    assert click.headers["location"] == checkout["abandoned_checkout_url"]

    order = order_payload(checkout)
    answer = server.webhook("orders/create", encode(order))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "received"

    report = server.wait_for(
        "for the order in the report",
        lambda: r if (r := server.api("/api/report", store="acme"))["orders_recovered"] else None,
    )
    spend = Decimal(report["spend"])
    revenue = Decimal(report["recovered_revenue"])
    assert report["carts_abandoned"] == 1
    assert report["messages_sent"] == 1
    assert report["sms_segments"] == 1
    assert spend == Decimal("0.30")
    assert report["orders_recovered"] == 1
    assert revenue == Decimal(order["total_price"]) == Decimal("404.95")
    expected_roas = (revenue / spend).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert Decimal(report["roas"]) == expected_roas
    assert report["currency"] == "USD"

    cart = cart_by_key(server, checkout["token"])
    assert cart["status"] == "purchased"
    detail = server.api(f"/api/carts/{cart['id']}")
    assert detail["status"] == "purchased"
    timeline = detail["timeline"]
    kinds = [entry["kind"] for entry in timeline]
    assert any(e["kind"] == "decision" and e["reason"] == "abandoned" for e in timeline), timeline
    assert {"message", "click", "order"} <= set(kinds), kinds
    assert [e["message_id"] for e in timeline if e["kind"] == "message"] == [sms["message_id"]]
    assert detail["order"]["recovered"] is True
    assert detail["order"]["attribution"] == "click"
    assert detail["order"]["attributed_message_id"] == sms["message_id"]
    assert Decimal(detail["order"]["total"]) == Decimal("404.95")


def test_bad_webhooks_and_requests_get_clear_answers(server: Server) -> None:
    body = encode(checkout_payload())
    assert server.api("/api/deliveries") == []

    wrong = shopify_signature(body, "not-the-secret")
    assert server.webhook("checkouts/create", body, signature=wrong).status_code == 401
    assert server.webhook("checkouts/create", body, signature=None).status_code == 401
    assert server.api("/api/deliveries") == [], "nothing is stored for a bad signature"

    unknown = server.webhook("checkouts/create", body, shop_domain="other.myshopify.com")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_store"
    assert "other.myshopify.com" in unknown.json()["error"]["message"]

    garbled = server.webhook("checkouts/create", b"<html>not json</html>")
    assert garbled.status_code == 400, garbled.text
    assert "not JSON" in garbled.json()["error"]["message"]
    failed = server.api("/api/deliveries", status="failed")
    assert [d["id"] for d in failed] == [garbled.json()["delivery_id"]]
    assert "not JSON" in failed[0]["error"]

    first = server.webhook("checkouts/create", body, webhook_id="delivery-1")
    again = server.webhook("checkouts/create", body, webhook_id="delivery-1")
    assert (first.status_code, again.status_code) == (200, 200), (first.text, again.text)
    assert first.json()["status"] == "received"
    # Stored once either way; "duplicate" once the first was applied, which happens right after
    # its answer and may or may not be done by the time the repeat arrives.
    assert again.json()["status"] in ("duplicate", "received")
    assert again.json()["delivery_id"] == first.json()["delivery_id"]
    assert server.wait_for("for the cart", lambda: server.api("/api/carts", store="acme"))
    assert len(server.api("/api/carts", store="acme")) == 1

    for path in ("/api/carts", "/api/report", "/api/deliveries"):
        assert server.http.get(path).status_code == 401
        wrong_token = {"Authorization": "Bearer not-the-token"}
        assert server.http.get(path, headers=wrong_token).status_code == 401

    assert server.http.get("/r/nosuchcode", follow_redirects=False).status_code == 404


def test_carts_without_a_usable_phone_are_skipped_with_a_reason(server: Server) -> None:
    no_phone = checkout_payload(token="no-phone-checkout")
    no_phone["sms_marketing_phone"] = None
    no_phone["phone"] = None
    no_phone["email"] = "no-phone@example.com"
    no_phone["customer"]["email"] = "no-phone@example.com"
    no_phone["customer"]["phone"] = None
    no_phone["customer"]["default_address"]["phone"] = None
    no_phone["billing_address"]["phone"] = None
    no_phone["shipping_address"]["phone"] = None

    invalid_phone = checkout_payload(token="invalid-phone-checkout")
    invalid_phone["sms_marketing_phone"] = None
    invalid_phone["email"] = "invalid-phone@example.com"
    invalid_phone["customer"]["email"] = "invalid-phone@example.com"
    invalid_phone["billing_address"]["phone"] = "+45 2012 345"  # a digit short

    placeholder = checkout_payload(token="placeholder-phone-checkout")
    # Shopify's own placeholder numbers, which are no telephone numbers at all.
    placeholder["sms_marketing_phone"] = None
    placeholder["email"] = "placeholder-phone@example.com"
    placeholder["customer"]["email"] = "placeholder-phone@example.com"
    assert placeholder["billing_address"]["phone"] == "555-555-BILL"

    for checkout in (no_phone, invalid_phone, placeholder):
        answer = server.webhook("checkouts/create", encode(checkout))
        assert answer.status_code == 200, answer.text

    expected = ((no_phone, "no_phone"), (invalid_phone, "invalid_phone"), (placeholder, "no_phone"))
    for checkout, reason in expected:
        cart_id = cart_by_key(server, checkout["token"])["id"]

        def skipped(cart_id: int = cart_id, reason: str = reason) -> dict[str, Any] | None:
            timeline = server.api(f"/api/carts/{cart_id}")["timeline"]
            return next((e for e in timeline if e.get("reason") == reason), None)

        decision = server.wait_for(f"for a {reason} decision on cart {cart_id}", skipped)
        assert decision["kind"] == "decision"
        assert decision["action"] == "skip"
        assert server.api(f"/api/carts/{cart_id}")["messages"] == []
        if checkout is invalid_phone:  # which number, masked, and where it came from
            assert "+45 20***45 (from billing_address.phone)" in decision["detail"]

    assert server.sms_lines() == []
    report = server.api("/api/report", store="acme")
    assert report["carts_abandoned"] == 3
    assert report["messages_sent"] == 0
    assert report["skipped"].get("no_phone") == 2
    assert report["skipped"].get("invalid_phone") == 1
