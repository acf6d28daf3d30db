"""Base64 HMAC-SHA256 of a raw body: how Shopify and WooCommerce sign their webhooks, and the
platform base that checks it and reads the topic from a header."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime
from typing import ClassVar

from cartback.integrations.platform import Platform, ShopStore, Verdict, WebhookRequest, secret_of


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


class Base64HmacPlatform(Platform):
    """A platform that signs the body with the store's secret in `signature_header` and names
    the topic in `topic_header`."""

    signature_header: ClassVar[str]
    topic_header: ClassVar[str]

    def verify(self, request: WebhookRequest, store: ShopStore, now: datetime) -> Verdict:
        if verify_b64(request.body, request.header(self.signature_header), secret_of(store)):
            return Verdict.accept()
        return Verdict.refuse(f"the {self.signature_header} signature does not match this body")

    def topic(self, request: WebhookRequest) -> str:
        return request.header(self.topic_header) or ""
