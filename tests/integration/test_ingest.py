"""Ingest under pressure. Shopify sends checkouts/create and checkouts/update for a new checkout
within milliseconds: both are answered 200 and make one cart. A bug while applying a delivery
leaves it failed, never stuck in received."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import Shop, checkout_payload

PAIRS = 50


def test_pairs_of_deliveries_for_one_new_checkout_at_once_make_one_cart_each(shop: Shop) -> None:
    tokens = [f"race-{n:02d}" for n in range(PAIRS)]
    posts = [
        (topic, checkout_payload(shop.clock.now(), token=token, cart_token=f"cart-{token}"))
        for token in tokens
        for topic in ("checkouts/create", "checkouts/update")
    ]
    start = threading.Barrier(len(posts))

    def post(topic: str, payload: dict[str, object]) -> int:
        start.wait(timeout=60)
        status: int = shop.post(topic, payload).status_code
        return status

    with ThreadPoolExecutor(max_workers=len(posts)) as pool:
        answers = list(pool.map(lambda item: post(*item), posts))

    assert answers == [200] * len(posts)
    carts = shop.api("/api/carts", limit=1000)
    assert sorted(cart["cart_key"] for cart in carts) == tokens
    assert {cart["update_count"] for cart in carts} == {2}  # each pair: one insert, one update
    deliveries = shop.api("/api/deliveries", limit=1000)
    assert {d["status"] for d in deliveries} == {"processed"} and len(deliveries) == len(posts)


def test_an_unexpected_error_while_applying_marks_the_delivery_failed(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("a bug while applying")

    monkeypatch.setattr(shop.runtime.ingest.applier, "apply", broken)
    with pytest.raises(RuntimeError, match="a bug while applying"):
        shop.post("checkouts/update", checkout_payload(shop.clock.now()))

    [delivery] = shop.api("/api/deliveries")
    assert delivery["status"] == "failed"
    assert delivery["error"] == "RuntimeError: a bug while applying"
    assert shop.api("/api/carts") == []  # nothing of it was applied
