"""Which recovery URLs a short link may lead to (domain/links.py)."""

from __future__ import annotations

import pytest

from cartback.domain.links import link_problem


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/cart/restore/1?key=abc",
        "http://shop.example:8080/checkout",
        "https://93.184.216.34/cart",
    ],
)
def test_public_http_pages_are_fine(url: str) -> None:
    assert link_problem(url) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("javascript:alert(document.cookie)", "javascript: URL"),
        ("JavaScript:alert(1)", "javascript: URL"),
        ("data:text/html,<script>alert(1)</script>", "data: URL"),
        ("file:///etc/passwd", "file: URL"),
        ("//evil.example/cart", "protocol-relative"),
        ("https:\\\\evil.example", "backslash"),
        ("https://", "names no host"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("https://shop.example/\r\nSet-Cookie: x=1", "control character"),
    ],
)
def test_other_targets_are_refused_saying_why(url: str, says: str) -> None:
    problem = link_problem(url)
    assert problem is not None and says in problem
