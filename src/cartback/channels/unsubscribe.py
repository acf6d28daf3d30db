"""Unsubscribe tokens that need no table: the store and address, signed with a secret.

A token is base64url (unpadded) of `store_id \\0 email` followed by the first 16 bytes of
HMAC-SHA256 over those bytes. Nobody can make one without the secret, and reading one back
needs nothing but the secret. The address is encoded, not encrypted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable

_LABEL = b"cartback/unsubscribe-token/v1"
_MAC_BYTES = 16
_MAX_TOKEN_CHARS = 2048
_SEPARATOR = b"\0"
_TOKEN_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


def key_from(secret: str) -> bytes:
    """The key of unsubscribe tokens, derived from the signing secret (before there was one,
    from the API token: such a token still verifies while that token is unchanged)."""
    if not secret:
        raise ValueError("the secret is empty; unsubscribe tokens need one")
    return hmac.new(secret.encode("utf-8"), _LABEL, hashlib.sha256).digest()


def read_token_any(secrets: Iterable[str], token: str) -> tuple[str, str] | None:
    """`read_token` with the key of each secret in turn (the current one, then earlier ones)."""
    for secret in secrets:
        found = read_token(key_from(secret), token)
        if found is not None:
            return found
    return None


def make_token(secret: bytes, store_id: str, email: str) -> str:
    if not store_id or "\0" in store_id:
        raise ValueError("store_id must be non-empty and contain no NUL character")
    if not email or "\0" in email:
        raise ValueError("email must be non-empty and contain no NUL character")
    payload = store_id.encode("utf-8") + _SEPARATOR + email.encode("utf-8")
    return _b64encode(payload + _mac(secret, payload))


def read_token(secret: bytes, token: str) -> tuple[str, str] | None:
    """`(store_id, email)` from a token we made; None for anything else. Never raises."""
    raw = _b64decode(token)
    if raw is None or len(raw) <= _MAC_BYTES:
        return None
    payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    return _split(payload)


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(token: object) -> bytes | None:
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
        return None
    if not _TOKEN_ALPHABET.fullmatch(token) or len(token) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if _b64encode(raw) == token else None  # one spelling per token


def _split(payload: bytes) -> tuple[str, str] | None:
    store_id, separator, email = payload.partition(_SEPARATOR)
    if not separator or not store_id or not email or _SEPARATOR in email:
        return None
    try:
        return store_id.decode("utf-8"), email.decode("utf-8")
    except UnicodeDecodeError:
        return None
