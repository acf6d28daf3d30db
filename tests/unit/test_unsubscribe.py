"""Unsubscribe tokens: readable only with the key, and nothing else reads as one."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from cartback.channels.unsubscribe import key_from, make_token, read_token, read_token_any

KEY = key_from("api-token-for-tests-0123456789")
EMAIL = "astrid.hansen@example.com"


def test_a_token_reads_back_as_the_store_and_address() -> None:
    token = make_token(KEY, "nordic-knit", EMAIL)

    assert read_token(KEY, token) == ("nordic-knit", EMAIL)


def test_a_token_is_url_safe_and_the_same_each_time() -> None:
    token = make_token(KEY, "nordic-knit", "æøå+tag@example.dk")

    assert token == make_token(KEY, "nordic-knit", "æøå+tag@example.dk")
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert read_token(KEY, token) == ("nordic-knit", "æøå+tag@example.dk")


def test_another_key_does_not_read_it() -> None:
    token = make_token(KEY, "nordic-knit", EMAIL)

    assert read_token(key_from("another-api-token-987654321"), token) is None


def test_the_key_depends_on_the_secret() -> None:
    assert key_from("token-a") != key_from("token-b")
    assert key_from("token-a") == key_from("token-a")
    with pytest.raises(ValueError, match="secret is empty"):
        key_from("")


def test_a_token_of_an_earlier_secret_still_reads() -> None:
    token = make_token(key_from("old-secret"), "nordic-knit", EMAIL)

    assert read_token_any(["new-secret", "old-secret"], token) == ("nordic-knit", EMAIL)
    assert read_token_any(["new-secret"], token) is None


def test_a_changed_address_is_refused() -> None:
    raw = base64.urlsafe_b64decode(make_token(KEY, "nordic-knit", EMAIL) + "==")
    forged = raw.replace(b"astrid", b"bjarne")
    token = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()

    assert read_token(KEY, token) is None


def test_every_flipped_character_is_refused() -> None:
    token = make_token(KEY, "s", "a@b.c")
    for index, char in enumerate(token):
        flipped = token[:index] + ("A" if char != "A" else "B") + token[index + 1 :]
        assert read_token(KEY, flipped) is None, index


@pytest.mark.parametrize(
    "garbage",
    ["", "A", "AAAA", "====", "not a token", "é" * 40, "a" * 5000, "abc.def", "A" * 23,
     base64.urlsafe_b64encode(b"\0" * 40).decode().rstrip("=")],
)  # fmt: skip
def test_garbage_reads_as_none(garbage: str) -> None:
    assert read_token(KEY, garbage) is None


def test_a_signed_payload_without_a_separator_is_refused() -> None:
    payload = b"no-separator-here"
    mac = hmac.new(KEY, payload, hashlib.sha256).digest()[:16]
    token = base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode()

    assert read_token(KEY, token) is None


def test_padding_or_junk_around_a_token_is_refused() -> None:
    token = make_token(KEY, "nordic-knit", EMAIL)

    assert read_token(KEY, token + "=") is None
    assert read_token(KEY, " " + token) is None
    assert read_token(KEY, token + "\n") is None


@pytest.mark.parametrize(("store", "email"), [("", EMAIL), ("a\0b", EMAIL), ("s", "")])
def test_making_a_token_from_bad_parts_is_refused(store: str, email: str) -> None:
    with pytest.raises(ValueError) as error:
        make_token(KEY, store, email)
    assert EMAIL not in str(error.value)
