"""The lists of the API page on by the last row seen (`after`): every row once, in the order
of one long page, however deep, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.integration.conftest import Shop


def _walked(shop: Shop, path: str, **params: Any) -> list[Any]:
    seen: list[Any] = []
    after: Any = None
    for _ in range(20):  # more pages than rows: a list that never ends fails
        page = shop.api(path, limit=2, **params, **({} if after is None else {"after": after}))
        if not page:
            return seen
        seen += [row["id"] for row in page]
        after = page[-1]["id"]
    raise AssertionError(f"{path} did not end: {seen}")


def test_carts_and_deliveries_page_on_by_the_last_one_seen(shop: Shop) -> None:
    for n in range(5):
        shop.checkout(token=f"paging-{n}", cart_token=f"cart-{n}")
        shop.clock.advance(timedelta(minutes=1 if n % 2 else 0))
    carts = [row["id"] for row in shop.api("/api/carts")]
    deliveries = [row["id"] for row in shop.api("/api/deliveries")]
    assert len(carts) == 5 and len(deliveries) == 5
    assert _walked(shop, "/api/carts") == carts
    assert _walked(shop, "/api/carts", status="open") == carts
    assert _walked(shop, "/api/deliveries") == deliveries


def test_messages_page_on_by_the_last_one_seen(shop: Shop) -> None:
    for n in range(3):
        phone, email = f"+45201230{n}9", f"buyer{n}@example.com"  # each one's own SMS
        shop.checkout(
            token=f"sent-{n}", cart_token=f"sent-cart-{n}", sms_marketing_phone=phone, email=email
        )
    shop.advance(timedelta(hours=2))
    messages = [row["id"] for row in shop.api("/api/messages")]
    assert len(messages) >= 2
    assert _walked(shop, "/api/messages") == messages
