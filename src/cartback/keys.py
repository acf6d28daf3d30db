"""The keys cartback derives from its secrets, each made in one place."""

from __future__ import annotations

import hashlib
import hmac

from cartback.config import Settings


def erase_key(settings: Settings) -> bytes:
    """The key of the hashes an erasure keeps (see `domain.privacy`); the one place it comes
    from. Changing it forgets every erased person's withdrawal."""
    return hmac.new(settings.api_token.encode(), b"cartback erase", hashlib.sha256).digest()
