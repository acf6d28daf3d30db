"""Email addresses: the one way cartback writes an address down, and what it accepts as one.

Addresses are compared as stripped, lower-cased text: the consent ledger, suppressions, touches
and carts all key on that form. Error messages never repeat the address.
"""

from __future__ import annotations

from email.utils import parseaddr

MAX_LENGTH = 320


class InvalidEmail(ValueError):
    pass


def normalize_email(raw: str | None) -> str | None:
    """The address as cartback keeps it (stripped, lower-cased); None when blank."""
    if raw is None:
        return None
    return raw.strip().lower() or None


def require_email(raw: str | None) -> str:
    """A usable address (name@domain.tld) that a person or a file gave; InvalidEmail if not."""
    email = normalize_email(raw)
    if email is None:
        raise InvalidEmail("an email address is needed")
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or any(char.isspace() for char in email):
        raise InvalidEmail("not an email address like name@example.com")
    if len(email) > MAX_LENGTH:
        raise InvalidEmail(f"longer than {MAX_LENGTH} characters")
    return email


def bare_address(address: str | None) -> str | None:
    """The bare address of `Name <address>` (for a mailto: link); None for nothing."""
    return (parseaddr(address)[1] or None) if address else None
