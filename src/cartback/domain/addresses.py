"""Email addresses as cartback keeps them: trimmed and lower-cased, or nothing."""

from __future__ import annotations


def normalize_email(value: str | None) -> str | None:
    """The address to store and match on; None for a missing or blank one."""
    address = (value or "").strip().lower()
    return address or None
