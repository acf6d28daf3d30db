"""The core loop end to end, in-process, against SQLite and PostgreSQL, with a fake clock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.integration.conftest import PHONE, Shop


def _reasons(cart: dict) -> list[str]:
    return [e["reason"] for e in cart["timeline"] if e["kind"] == "decision"]


def test_abandoned_checkout_gets_one_sms_then_click_and_order_count_as_recovered(
    shop: Shop,
) -> None:
    checkout = shop.checkout()
    assert shop.tick() == 0
    assert shop.advance(timedelta(minutes=29)) == 0
    assert shop.sms.sent == []

    assert shop.advance(timedelta(minutes=1)) == 1
    [sms] = shop.sms.sent
    assert sms.to == PHONE and sms.sender == "Acme"
    assert sms.text.startswith("Hi John, your basket at Acme is saved: https://cb.example/r/")
    code = sms.text.rsplit("/r/", 1)[1]
    assert len(code) >= 8

    shop.clock.advance(timedelta(hours=2))
    response = shop.client.get(f"/r/{code}", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == checkout["abandoned_checkout_url"]

    shop.clock.advance(timedelta(minutes=10))
    shop.order(checkout, total_price="404.95")
    cart = shop.cart()
    assert cart["status"] == "purchased"
    assert cart["order"]["recovered"] is True and cart["order"]["attribution"] == "click"
    assert cart["run"]["status"] == "cancelled"
    kinds = [e["kind"] for e in cart["timeline"]]
    assert kinds.index("message") < kinds.index("click") < kinds.index("order")

    report = shop.api("/api/report", store="acme")
    assert report["carts_abandoned"] == 1
    assert report["messages_sent"] == 1
    assert report["sms_segments"] == 1
    assert Decimal(report["spend"]) == Decimal("0.30")
    assert report["orders_recovered"] == 1
    assert Decimal(report["recovered_revenue"]) == Decimal("404.95")
    assert Decimal(report["roas"]) == Decimal("1349.83")
    assert report["currency"] == "USD"


def test_each_update_restarts_the_abandonment_timer(shop: Shop) -> None:
    shop.checkout()
    shop.clock.advance(timedelta(minutes=20))
    shop.checkout()
    assert shop.advance(timedelta(minutes=20)) == 0  # 40 min after the first, 20 after the last
    assert shop.sms.sent == []
    assert shop.advance(timedelta(minutes=10)) == 1
    assert len(shop.sms.sent) == 1
    assert shop.cart()["update_count"] == 2


def test_order_before_abandonment_cancels_and_is_not_counted_as_recovered(shop: Shop) -> None:
    checkout = shop.checkout()
    shop.clock.advance(timedelta(minutes=10))
    shop.order(checkout)
    assert shop.advance(timedelta(hours=1)) == 0
    assert shop.sms.sent == []
    cart = shop.cart()
    assert cart["status"] == "purchased" and cart["run"]["status"] == "cancelled"
    assert "purchased" in _reasons(cart)
    report = shop.api("/api/report")
    assert report["orders_recovered"] == 0 and report["carts_abandoned"] == 0


def test_order_within_the_send_window_without_a_click_is_recovered_by_send(shop: Shop) -> None:
    checkout = shop.checkout()
    shop.advance(timedelta(minutes=30))
    shop.clock.advance(timedelta(hours=5))
    shop.order(checkout)
    assert shop.cart()["order"]["attribution"] == "send"


def test_order_after_the_send_window_is_not_recovered(shop: Shop) -> None:
    checkout = shop.checkout()
    shop.advance(timedelta(minutes=30))
    shop.clock.advance(timedelta(hours=25))
    shop.order(checkout)
    cart = shop.cart()
    assert cart["status"] == "purchased" and cart["order"]["recovered"] is False


def test_order_is_matched_by_email_when_tokens_are_missing(shop: Shop) -> None:
    shop.checkout(email="Astrid@Example.com")
    shop.advance(timedelta(minutes=30))
    shop.clock.advance(timedelta(hours=1))
    shop.order(None, email="astrid@example.com")
    cart = shop.cart()
    assert cart["status"] == "purchased" and cart["order"]["recovered"] is True


def test_without_sms_consent_nothing_is_sent_and_the_reason_is_recorded(shop: Shop) -> None:
    shop.checkout(buyer_accepts_sms_marketing=False)
    shop.advance(timedelta(minutes=30))
    assert shop.sms.sent == []
    assert "no_consent" in _reasons(shop.cart())


def test_consent_withdrawn_later_through_the_consent_topic_is_honoured(shop: Shop) -> None:
    shop.checkout()
    shop.clock.advance(timedelta(minutes=5))
    withdrawal = {
        "id": 603851970716743426,
        "phone": PHONE,
        "sms_marketing_consent": {
            "state": "unsubscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": shop.clock.now().isoformat(),
            "consent_collected_from": "SHOPIFY",
        },
    }
    assert shop.post("customers_marketing_consent/update", withdrawal).status_code == 200
    shop.advance(timedelta(minutes=30))
    assert shop.sms.sent == []
    assert "no_consent" in _reasons(shop.cart())


def test_no_phone_and_invalid_phone_are_decisions_not_sends(shop: Shop) -> None:
    shop.checkout(sms_marketing_phone=None, phone=None, billing_address=None, shipping_address=None)
    shop.checkout(token="other", sms_marketing_phone="+45 2012 345")
    # Shopify's sample addresses hold 555-555-BILL and 555-555-SHIP: no phone numbers at all.
    shop.checkout(token="third", sms_marketing_phone=None)
    shop.advance(timedelta(minutes=30))
    assert shop.sms.sent == []
    assert "no_phone" in _reasons(shop.cart(1))
    [invalid] = [e for e in shop.cart(2)["timeline"] if e["reason"] == "invalid_phone"]
    assert invalid["detail"] == (
        "The phone number +45 20***45 (from sms_marketing_phone) is not a valid number, "
        "so no SMS was sent."
    )
    [placeholder] = [e for e in shop.cart(3)["timeline"] if e["reason"] == "no_phone"]
    assert placeholder["detail"] == "The cart has no phone number for SMS."


def test_a_step_in_quiet_hours_moves_to_the_next_allowed_minute(shop: Shop) -> None:
    # 21:40 UTC is 22:40 in Copenhagen: quiet until 09:00 local, 08:00 UTC.
    shop.clock.set(shop.clock.now().replace(hour=21, minute=10))
    shop.checkout()
    shop.advance(timedelta(minutes=30))
    assert shop.sms.sent == []
    [deferral] = [e for e in shop.cart()["timeline"] if e["reason"] == "quiet_hours"]
    assert deferral["action"] == "defer"
    assert deferral["until"].startswith("2026-12-01T08:00:00")
    shop.clock.set(shop.clock.now().replace(day=1, month=12, hour=7, minute=59))
    assert shop.tick() == 0
    assert shop.advance(timedelta(minutes=1)) == 1
    assert len(shop.sms.sent) == 1


def test_email_step_without_an_email_channel_is_skipped_and_the_flow_ends(shop: Shop) -> None:
    shop.checkout()
    shop.advance(timedelta(minutes=30))
    shop.advance(timedelta(hours=24))
    cart = shop.cart()
    assert "channel_not_configured" in _reasons(cart)
    assert cart["run"]["status"] == "done"
    assert len(shop.sms.sent) == 1


def test_deleted_checkout_cancels_pending_steps(shop: Shop) -> None:
    checkout = shop.checkout()
    shop.clock.advance(timedelta(minutes=5))
    delete = {"id": 1, "cart_token": checkout["cart_token"]}
    assert shop.post("checkouts/delete", delete).status_code == 200
    shop.advance(timedelta(minutes=30))
    cart = shop.cart()
    assert cart["status"] == "deleted" and cart["run"]["status"] == "cancelled"
    assert shop.sms.sent == []


def test_an_update_older_than_what_we_have_is_ignored(shop: Shop) -> None:
    shop.checkout(total_price="500.00")
    older = (shop.clock.now() - timedelta(minutes=5)).isoformat()
    shop.checkout(total_price="100.00", updated_at=older)
    assert Decimal(shop.cart()["total"]) == Decimal("500.00")


def test_an_order_for_a_cart_never_seen_is_stored(shop: Shop) -> None:
    payload = shop.order(None, email="nobody@example.com")
    assert shop.api("/api/carts") == []
    assert shop.api("/api/report")["orders_recovered"] == 0
    assert payload["id"]


def test_the_same_delivery_twice_has_one_effect(shop: Shop) -> None:
    from tests.integration.conftest import checkout_payload

    payload = checkout_payload(shop.clock.now())
    first = shop.post("checkouts/create", payload, webhook_id="same-id")
    second = shop.post("checkouts/create", payload, webhook_id="same-id")
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "duplicate"
    assert shop.cart()["update_count"] == 1


def test_a_malformed_body_is_stored_then_failed_with_its_problem(shop: Shop) -> None:
    """Read after the answer: the shop hears 200, the delivery is listed failed, naming why."""
    from cartback.integrations import shopify

    body = b'{"token": "abc", "total_price": "12.00", "currency": "USD", "updated_at": "nope"}'
    headers = {
        shopify.TOPIC_HEADER: "checkouts/create",
        shopify.SHOP_DOMAIN_HEADER: "acme.myshopify.com",
        shopify.HMAC_HEADER: shopify.sign(body, "shpss_test_secret"),
        shopify.WEBHOOK_ID_HEADER: "bad-1",
    }
    response = shop.client.post("/webhooks/shopify", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "received"
    [failed] = shop.api("/api/deliveries", status="failed")
    assert failed["id"] == response.json()["delivery_id"]
    assert failed["delivery_key"] == "bad-1" and "updated_at" in failed["error"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(shop: Shop) -> None:
    from cartback.api.limits import MAX_BODY

    huge = b"{" + b" " * (MAX_BODY + 1) + b"}"
    response = shop.client.post(
        "/webhooks/shopify", content=huge, headers={"X-Shopify-Shop-Domain": "acme.myshopify.com"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert "larger than" in response.json()["error"]["message"]
    assert shop.api("/api/deliveries") == []


def test_a_streamed_body_over_the_limit_is_refused(shop: Shop) -> None:
    from cartback.api.limits import MAX_BODY

    def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(6):
            yield b" " * (MAX_BODY // 5)

    response = shop.client.post(
        "/webhooks/shopify",
        content=chunks(),
        headers={"X-Shopify-Shop-Domain": "acme.myshopify.com"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_lists_filter_by_store_and_status_newest_first(shop: Shop) -> None:
    bought = shop.checkout(token="bought")
    shop.clock.advance(timedelta(minutes=1))
    shop.checkout(token="left")
    shop.advance(timedelta(minutes=30))
    shop.order(bought)
    assert [c["cart_key"] for c in shop.api("/api/carts")] == ["bought", "left"]
    assert [c["cart_key"] for c in shop.api("/api/carts", status="abandoned")] == ["left"]
    assert shop.api("/api/carts", store="other") == []
    assert len(shop.api("/api/messages", status="sent", store="acme")) == 1
    assert shop.api("/api/messages", status="failed") == []
