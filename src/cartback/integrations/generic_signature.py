"""The generic webhook's signature: `X-Cartback-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`.

The HMAC is over `"<t>.<raw body>"`; deliveries outside a five-minute window are refused, so a
captured request cannot be replayed later. Several `v1` values may be given (secret rotation).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

SIGNATURE_HEADER = "X-Cartback-Signature"
TOLERANCE = timedelta(minutes=5)


# --- signatures -------------------------------------------------------------------------------


class VerifyResult(StrEnum):
    OK = "ok"
    MISSING = f"no {SIGNATURE_HEADER} header"
    MALFORMED = f"{SIGNATURE_HEADER} is not of the form t=<unix time>,v1=<hex>"
    BAD_SIGNATURE = "bad signature: no v1 value matches the body and secret"
    TOO_OLD = "outside the time window: the timestamp is too old (replays are refused)"
    IN_FUTURE = "outside the time window: the timestamp is in the future (check the clock)"

    @property
    def ok(self) -> bool:
        return self is VerifyResult.OK


def _hex_digest(body: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str | Sequence[str], timestamp: int) -> str:
    """The `X-Cartback-Signature` value; several secrets give one `v1` each (rotation)."""
    secrets = [secret] if isinstance(secret, str) else list(secret)
    signatures = ",".join(f"v1={_hex_digest(body, key, timestamp)}" for key in secrets)
    return f"t={timestamp},{signatures}"


def verify(
    body: bytes,
    header: str | None,
    secret: str | Sequence[str],
    now: datetime,
    tolerance: timedelta = TOLERANCE,
) -> VerifyResult:
    """Check the signature first, then the time window. Constant time; never raises."""
    if not header or not header.strip():
        return VerifyResult.MISSING
    parsed = _parse_header(header)
    if parsed is None:
        return VerifyResult.MALFORMED
    timestamp, received = parsed
    secrets = [secret] if isinstance(secret, str) else list(secret)
    matched = False
    for key in filter(None, secrets):
        expected = _hex_digest(body, key, timestamp).encode("ascii")
        for candidate in received:
            matched |= hmac.compare_digest(candidate.encode("ascii"), expected)
    if not matched:
        return VerifyResult.BAD_SIGNATURE
    age = now.timestamp() - timestamp
    if age > tolerance.total_seconds():
        return VerifyResult.TOO_OLD
    if -age > tolerance.total_seconds():
        return VerifyResult.IN_FUTURE
    return VerifyResult.OK


def _parse_header(header: str) -> tuple[int, list[str]] | None:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and re.fullmatch(r"[0-9]{1,12}", value):  # ASCII digits, a sane length
            timestamp = int(value)
        elif name == "v1" and re.fullmatch(r"[0-9a-fA-F]{64}", value):
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures
