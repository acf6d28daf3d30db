"""Form-encoded generic webhooks: flat keys (`cart.items[0].title`) unflattened into JSON's shape.

Zapier and Make post form fields more easily than JSON. `cart.items[0].title=T-shirt` and the
PHP style `cart[items][0][title]=T-shirt` both become `{"cart": {"items": [{"title": ...}]}}`.
An empty field means "not given".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from cartback.domain.bounds import MAX_NESTING
from cartback.integrations._json import PayloadError, load_object

__all__ = ["decode", "field_path"]


def decode(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The body as nested data: JSON as is, form fields unflattened from their keys."""
    kind = (content_type or "").lower()
    if "x-www-form-urlencoded" in kind or (not kind and not body.lstrip().startswith(b"{")):
        try:
            return _unflatten(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise PayloadError("body is not UTF-8 form data") from None
    return dict(load_object(body, "").data)


def _unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    tree: dict[str | int, Any] = {}
    for key, value in pairs:
        parts = _key_parts(key)
        node = tree
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise PayloadError(f"{field_path(parts[: depth + 1])}: has both a value and fields")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise PayloadError(f"{field_path(parts)}: has both a value and fields")
        node[parts[-1]] = value.strip() or None  # an empty form field means "not given"
    if any(isinstance(key, int) for key in tree):
        raise PayloadError("body: top-level keys must be field names, not list indices")
    return {str(key): _listify(value, (key,)) for key, value in tree.items()}


def _key_parts(key: str) -> tuple[str | int, ...]:
    if "[]" in key:
        raise PayloadError(f"{key}: number list entries, e.g. cart.items[0].title")
    parts = [part for part in re.split(r"[.\[\]]", key) if part]
    if not parts:
        raise PayloadError(f"{key!r}: not a field name")
    if len(parts) > MAX_NESTING:
        raise PayloadError(f"{key[:80]!r}…: nests deeper than {MAX_NESTING} levels")
    return tuple(int(part) if part.isascii() and part.isdigit() else part for part in parts)


def _listify(node: object, at: tuple[str | int, ...]) -> object:
    """Objects whose keys are all indices become lists (0, 1, 2, … with no gaps)."""
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(key, int) for key in node):
        indices = sorted(node)
        if indices != list(range(len(indices))):
            raise PayloadError(
                f"{field_path(at)}: list indices must run 0, 1, 2, … (got {indices})"
            )
        return [_listify(node[index], (*at, index)) for index in indices]
    if any(isinstance(key, int) for key in node):
        raise PayloadError(f"{field_path(at)}: mixes list indices and field names")
    return {key: _listify(value, (*at, key)) for key, value in node.items()}


def field_path(parts: Sequence[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "body"
