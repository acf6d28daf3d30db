"""Dashboard sessions: signed, expiring, bound to the server's key; a safe place to go after."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from cartback.api.dashboard import auth

KEY = b"k" * 32
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_a_session_cookie_reads_back_until_it_expires() -> None:
    cookie, session = auth.issue(KEY, NOW)
    assert auth.read(KEY, cookie, NOW + timedelta(hours=11)) == session
    assert session.expires_at == NOW + auth.SESSION_LIFETIME
    assert auth.read(KEY, cookie, NOW + auth.SESSION_LIFETIME) is None, "expired"


def test_a_session_keeps_the_one_store_it_may_see() -> None:
    cookie, session = auth.issue(KEY, NOW, store="acme")
    found = auth.read(KEY, cookie, NOW)
    assert found == session and found.store == "acme"
    assert auth.read(KEY, auth.issue(KEY, NOW)[0], NOW).store is None  # type: ignore[union-attr]


def test_each_session_has_its_own_csrf_token() -> None:
    assert auth.issue(KEY, NOW)[1].csrf != auth.issue(KEY, NOW)[1].csrf


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.replace(".", ".x", 1),  # another signature
        lambda c: c + "A",
        lambda c: "",
        lambda c: "no-dot",
        lambda c: "!!!.###",
    ],
)
def test_an_altered_cookie_is_no_session(change: object) -> None:
    cookie, _ = auth.issue(KEY, NOW)
    assert auth.read(KEY, change(cookie), NOW) is None  # type: ignore[operator]


def test_a_longer_expiry_cannot_be_written_in_without_the_key() -> None:
    cookie, session = auth.issue(KEY, NOW)
    payload, _, mac = cookie.partition(".")
    text = base64.urlsafe_b64decode(payload + "==").decode()
    later = text.replace(str(int(session.expires_at.timestamp())), "9999999999")
    forged = base64.urlsafe_b64encode(later.encode()).rstrip(b"=").decode() + "." + mac
    assert auth.read(KEY, forged, NOW) is None


def test_a_session_of_another_key_is_refused() -> None:
    cookie, _ = auth.issue(b"other" * 8, NOW)
    assert auth.read(KEY, cookie, NOW) is None


@pytest.mark.parametrize(
    ("asked", "goes_to"),
    [
        (None, "/dashboard"),
        ("/dashboard/carts?status=open", "/dashboard/carts?status=open"),
        ("https://evil.example/dashboard", "/dashboard"),
        ("//evil.example/dashboard", "/dashboard"),
        ("/dashboard\\@evil.example", "/dashboard"),
        ("/api/report", "/dashboard"),
    ],
)
def test_after_login_only_a_dashboard_page_of_this_server(asked: str | None, goes_to: str) -> None:
    assert auth.safe_next(asked) == goes_to
