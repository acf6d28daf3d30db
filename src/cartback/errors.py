"""cartback's one exception family, and the one JSON shape every error answer has.

An error that reaches a person or a client carries a stable machine `code` (snake_case, part of
the public contract) and a `message` that says what went wrong in a sentence, naming the store,
key, field or line it is about. Over HTTP it becomes

    {"error": {"code": "unknown_store", "message": "no woocommerce store 'x' is configured"}}

with the status of its class, and any `extra` as further top-level keys (e.g. `delivery_id`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

__all__ = [
    "BadSignature",
    "BodyTooLarge",
    "CartbackError",
    "FileError",
    "InvalidRequest",
    "NotConfigured",
    "NotFound",
    "NotReady",
    "Unauthorized",
    "UnknownStore",
    "UnreadableBody",
    "error_body",
]


class CartbackError(Exception):
    """The base of every error cartback raises on purpose."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        extra: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})
        self.http_status = status if status is not None else type(self).status

    def body(self) -> dict[str, object]:
        return error_body(self.code, self.message, self.extra)


def error_body(
    code: str, message: str, extra: Mapping[str, object] | None = None
) -> dict[str, object]:
    """The JSON every 4xx/5xx answer carries."""
    return {"error": {"code": code, "message": message}, **(extra or {})}


class InvalidRequest(CartbackError, ValueError):
    """The request names something that cannot be used (a field, a parameter)."""

    code = "invalid_request"
    status = 422


class NotFound(CartbackError):
    code = "not_found"
    status = 404


class NotReady(CartbackError):
    """The process runs but cannot serve yet: the database does not answer, or its schema is
    not the one this code needs."""

    code = "not_ready"
    status = 503


class UnknownStore(NotFound):
    """A webhook for a store (or shop domain) the config does not have."""

    code = "unknown_store"


class NotConfigured(NotFound):
    """A callback for a gateway that is not the configured provider."""

    code = "not_configured"


class Unauthorized(CartbackError):
    """A missing or wrong API token, or a wrong secret in a callback URL."""

    code = "unauthorized"
    status = 401


class BadSignature(Unauthorized):
    """A webhook or callback whose signature is missing, wrong, or outside its time window."""

    code = "bad_signature"


class UnreadableBody(CartbackError, ValueError):
    """A body that cannot be read; for a webhook the raw delivery is stored all the same."""

    code = "unreadable_body"
    status = 400


class BodyTooLarge(CartbackError):
    code = "body_too_large"
    status = 413


class FileError(CartbackError, ValueError):
    """A file (CSV import, config) that cannot be used; `problems` name the line of each."""

    code = "invalid_file"
    status = 422
    shown = 20

    def __init__(self, problems: list[str]) -> None:
        shown = problems[: self.shown]
        rest = len(problems) - len(shown)
        super().__init__("; ".join(shown) + (f" (and {rest} more)" if rest > 0 else ""))
        self.problems = problems
