"""Base64 HMAC-SHA256 of a raw body: how Shopify and WooCommerce sign their webhooks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


def _digest(body: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()


def sign_b64(body: bytes, secret: str) -> str:
    return base64.b64encode(_digest(body, secret)).decode("ascii")


def verify_b64(body: bytes, signature: str | None, secret: str) -> bool:
    """Constant-time check of a base64 signature; False (never an exception) for anything odd."""
    if not signature or not secret:
        return False
    try:
        received = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(received, _digest(body, secret))
