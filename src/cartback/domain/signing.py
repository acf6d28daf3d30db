"""The signing secret: what unsubscribe links and gateway callback keys are signed with.

It is not the API token, so the token can be rotated without breaking a link already in someone's
inbox. It is configured (`signing_secret:`) or made on first start and kept in the database, and
the secrets it replaced (`previous_signing_secrets:`) still verify. Other features that need a
keyed hash (erasure records) derive their own key from it with `key(purpose)`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["INMOBILE_CALLBACK", "Signing", "callback_key"]

INMOBILE_CALLBACK = b"cartback inmobile callback"


@dataclass(frozen=True, slots=True)
class Signing:
    """The current secret, which signs, and earlier ones, which only verify."""

    secret: str = field(repr=False)
    previous: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("the signing secret is empty")

    @classmethod
    def of(cls, secret: str, previous: Sequence[str]) -> Signing:
        earlier = tuple(dict.fromkeys(p for p in previous if p and p != secret))
        return cls(secret, earlier)

    @property
    def verifying(self) -> tuple[str, ...]:
        """Every secret that still verifies, the current one first."""
        return (self.secret, *self.previous)

    def key(self, purpose: bytes) -> bytes:
        """A key for one purpose, so that no two features share a key."""
        return hmac.new(self.secret.encode("utf-8"), purpose, hashlib.sha256).digest()

    def callback_key(self) -> str:
        return callback_key(self.secret)

    def is_callback_key(self, given: str) -> bool:
        """Whether `given` is the callback key of any verifying secret (constant time each)."""
        matched = False
        for secret in self.verifying:
            matched |= hmac.compare_digest(given.encode(), callback_key(secret).encode())
        return matched


def callback_key(secret: str) -> str:
    """The key in inMobile's status callback URL (inMobile does not sign its callbacks)."""
    return hmac.new(secret.encode(), INMOBILE_CALLBACK, hashlib.sha256).hexdigest()[:32]
