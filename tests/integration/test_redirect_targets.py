"""`/r/` leads only to http(s) pages on public hosts (issue 14.7), on both databases: an unsafe
recovery URL is not kept when the cart is stored (the timeline says so), and a stored one is
never served."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from cartback.store.sql import SqlStore
from cartback.store.tables import links
from tests.integration import test_platforms
from tests.integration.test_platforms import Cartback, generic_cart, link_code, post_generic

cb = test_platforms.cb  # the fixture: a cartback with a store of every platform


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "//evil.example/cart",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_an_unsafe_recovery_url_is_not_kept_and_the_timeline_says_why(
    cb: Cartback, url: str
) -> None:
    event = generic_cart(cb.clock.now())
    event["cart"]["recovery_url"] = url
    assert post_generic(cb, "gen", event).status_code == 200

    cart = cb.cart("gen", "c-1")
    assert cart["recovery_url"] is None
    [refused] = [e for e in cart["timeline"] if e.get("reason") == "unsafe_link"]
    assert "not kept" in refused["detail"]
    cb.wait()
    assert cb.sms.sent == []  # no link to send


def test_a_stored_unsafe_target_is_never_served(cb: Cartback) -> None:
    assert post_generic(cb, "gen", generic_cart(cb.clock.now())).status_code == 200
    cb.wait()
    [sms] = cb.sms.sent
    code = link_code(sms.text)
    assert cb.client.get(f"/r/{code}", follow_redirects=False).status_code == 302

    store = cb.runtime.store
    assert isinstance(store, SqlStore)
    with store.engine.begin() as conn:  # as a link stored before targets were checked
        conn.execute(update(links).where(links.c.code == code).values(target_url="javascript:x"))
    answer = cb.client.get(f"/r/{code}", follow_redirects=False)
    assert answer.status_code == 404
    assert "location" not in answer.headers
