"""Which addresses a short link may lead to: an http(s) page on a public host, nothing else.

A shop's recovery URL ends up behind `/r/{code}`, on our domain. A `javascript:` or `data:` URL
there would run in the shopper's browser as a link from us; `file:` and protocol-relative URLs
go where nobody meant; a link-local or cloud metadata address points inside someone's network.
The check is made when a cart is stored and again when a link is followed.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["link_problem"]

METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.azure.internal", "instance-data"}
)


def link_problem(url: str) -> str | None:
    """Why `url` may not be a short link's target, or None when it may."""
    text = url.strip()
    if any(char in text for char in "\\\r\n\t\x00"):
        return "contains a backslash or a control character"
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return "is not a URL"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return f"is a {scheme + ':' if scheme else 'protocol-relative'} URL, not http(s)"
    if not host:
        return "names no host"
    if host.rstrip(".").lower() in METADATA_HOSTS:
        return f"points at {host}, a cloud metadata address"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_link_local or str(address) == "fd00:ec2::254":
        return f"points at {host}, a link-local or metadata address"
    return None
