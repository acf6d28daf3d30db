"""The signing secret: what unsubscribe links and gateway callback keys are signed with.

It is not the API token, so the token can be rotated without breaking a link already in someone's
inbox. It is configured (`signing_secret:`) or made on first start and kept in the database, and
the secrets it replaced (`previous_signing_secrets:`) still verify. Other features that need a
keyed hash (erasure records) derive their own key from it with `key(purpose)`.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache

__all__ = ["INMOBILE_CALLBACK", "Signing", "callback_key"]

INMOBILE_CALLBACK = b"cartback inmobile callback"


class Signing:
    """The current secret, which signs, and earlier ones, which only verify.

    The current secret may be given as a function that finds it (in the database), called once
    on first use: building a runtime reads no table, so it can be built before a migration.
    """

    __slots__ = ("_current", "_find", "_lock", "previous")

    def __init__(self, secret: str | Callable[[], str], previous: Sequence[str] = ()) -> None:
        self._find = secret if callable(secret) else None
        self._current = None if callable(secret) else secret
        self._lock = threading.Lock()
        self.previous = tuple(previous)

    def __repr__(self) -> str:
        return f"Signing(previous={len(self.previous)})"

    @property
    def secret(self) -> str:
        if self._current is None:
            with self._lock:
                if self._current is None and self._find is not None:
                    self._current = self._find()
        if not self._current:
            raise ValueError("the signing secret is empty")
        return self._current

    @property
    def verifying(self) -> tuple[str, ...]:
        """Every secret that still verifies, the current one first."""
        current = self.secret
        return (current, *(p for p in dict.fromkeys(self.previous) if p and p != current))

    def key(self, purpose: bytes) -> bytes:
        """A key for one purpose, so that no two features share a key."""
        return _purpose_key(self.secret, purpose)

    def keys(self, purpose: bytes) -> tuple[bytes, ...]:
        """The key for `purpose` of every secret that still verifies, the current one first:
        what was keyed before a rotation is still found."""
        return tuple(_purpose_key(secret, purpose) for secret in self.verifying)

    def callback_key(self) -> str:
        return callback_key(self.secret)

    def is_callback_key(self, given: str) -> bool:
        """Whether `given` is the callback key of any verifying secret (constant time each)."""
        matched = False
        for secret in self.verifying:
            matched |= hmac.compare_digest(given.encode(), callback_key(secret).encode())
        return matched


@lru_cache(maxsize=64)
def _purpose_key(secret: str, purpose: bytes) -> bytes:
    """(Cached: a send asks for the erasure keys of every verifying secret, twice.)"""
    return hmac.new(secret.encode("utf-8"), purpose, hashlib.sha256).digest()


def callback_key(secret: str) -> str:
    """The key in inMobile's status callback URL (inMobile does not sign its callbacks)."""
    return hmac.new(secret.encode(), INMOBILE_CALLBACK, hashlib.sha256).hexdigest()[:32]
