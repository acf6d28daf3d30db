"""The keys cartback derives from its secrets, each made in one place."""

from __future__ import annotations

from cartback.domain.signing import Signing

ERASE_PURPOSE = b"cartback erase"


def erase_key(signing: Signing) -> bytes:
    """The key of the hashes an erasure keeps (see `domain.privacy`), derived from the signing
    secret (not the API token, which may be rotated); the one place it comes from. Changing the
    signing secret forgets every erased person's withdrawal."""
    return signing.key(ERASE_PURPOSE)
