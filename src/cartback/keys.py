"""The keys cartback derives from its secrets, each made in one place."""

from __future__ import annotations

from cartback.domain.signing import Signing

ERASE_PURPOSE = b"cartback erase"


def erase_key(signing: Signing) -> bytes:
    """The key of the hashes an erasure keeps (see `domain.privacy`), derived from the signing
    secret (not the API token, which may be rotated); the one place it comes from."""
    return signing.key(ERASE_PURPOSE)


def erase_keys(signing: Signing) -> tuple[bytes, ...]:
    """The keys under which erased people's "no" is looked up before a send: the current
    secret's, then those of every secret that still verifies (`previous_signing_secrets`, and
    the API token, which signed before there was a signing secret). A rotated secret kept in
    `previous_signing_secrets` still finds the hashes it keyed; one dropped from there forgets
    them."""
    return signing.keys(ERASE_PURPOSE)
