"""Promotional messages that other systems sent, so the cooldown spans every campaign.

A shop's newsletter tool or SMS marketing platform exports what it sent (a CSV, or the API);
each send is a touch. Before cartback messages someone, the policy asks for their last touch.
Importing the same export twice adds nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Insert, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite

from cartback.domain.phone import InvalidPhone, normalize_phone
from cartback.store.tables import touches

CHANNELS = ("sms", "email")
COLUMNS = ("phone", "email", "channel", "sent_at", "source")
MAX_ADDRESS_LENGTH = 320
MAX_SOURCE_LENGTH = 128


class TouchFileError(ValueError):
    """A touches file that cannot be read; `problems` name the line and column of each."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:20]
        more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
        super().__init__("; ".join(shown) + more)
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Touch:
    address: str  # E.164 for sms, lower-cased email for email
    channel: str
    sent_at: datetime
    source: str

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"a touch's channel is sms or email, not {self.channel!r}")
        if self.sent_at.tzinfo is None:
            raise ValueError("a touch's sent_at must be an aware datetime")
        if not self.address or not self.source:
            raise ValueError("a touch needs an address and a source")


def record_touches(conn: Connection, new: Iterable[Touch], now: datetime) -> int:
    """Store touches; the ones already stored are ignored. Returns how many were added."""
    rows = [
        {
            "address": touch.address,
            "channel": touch.channel,
            "sent_at": touch.sent_at.astimezone(UTC),
            "source": touch.source,
            "recorded_at": now,
        }
        for touch in new
    ]
    added = 0
    for start in range(0, len(rows), 500):
        statement = _insert_ignoring_duplicates(conn, touches).returning(touches.c.id)
        added += len(conn.execute(statement, rows[start : start + 500]).all())
    return added


def last_touch(
    conn: Connection, address: str, channel: str | None, since: datetime
) -> datetime | None:
    """The latest touch of `address` at or after `since`, on `channel` (None: any channel)."""
    query = select(func.max(touches.c.sent_at)).where(
        touches.c.address == address, touches.c.sent_at >= since
    )
    if channel is not None:
        query = query.where(touches.c.channel == channel)
    return conn.execute(query).scalar()  # MAX() keeps the column's type: aware UTC


def read_touches_csv(text: str, *, default_country: str | None = None) -> list[Touch]:
    """Touches from CSV text with the header `phone,email,channel,sent_at,source`.

    `channel` picks the address: sms uses `phone` (normalised to E.164; numbers without a
    country code are read as `default_country`), email uses `email` (lower-cased). `sent_at`
    is ISO 8601 with a UTC offset. Other columns are ignored; blank lines are skipped.
    """
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise TouchFileError([f"line 1: the header lacks the column(s) {', '.join(missing)}"])
    reader.fieldnames = header
    found: list[Touch] = []
    problems: list[str] = []
    for row in reader:
        cells = {name: (row.get(name) or "").strip() for name in COLUMNS}
        if not any(cells.values()):
            continue
        touch = _touch(cells, default_country, f"line {reader.line_num}", problems)
        if touch is not None:
            found.append(touch)
    if problems:
        raise TouchFileError(problems)
    return found


def _touch(
    cells: dict[str, str], country: str | None, where: str, problems: list[str]
) -> Touch | None:
    before = len(problems)
    channel = cells["channel"].lower()
    if channel not in CHANNELS:
        problems.append(f"{where}, column channel: expected sms or email, got {channel!r}")
        return None
    address = _phone(cells["phone"], country) if channel == "sms" else _email(cells["email"])
    if isinstance(address, _Problem):
        problems.append(f"{where}, column {address.column}: {address.text}")
    sent_at = _sent_at(cells["sent_at"])
    if isinstance(sent_at, _Problem):
        problems.append(f"{where}, column sent_at: {sent_at.text}")
    source = cells["source"]
    if not source or len(source) > MAX_SOURCE_LENGTH:
        problems.append(f"{where}, column source: needs 1 to {MAX_SOURCE_LENGTH} characters")
    if len(problems) > before:
        return None
    assert isinstance(address, str) and isinstance(sent_at, datetime)
    return Touch(address=address, channel=channel, sent_at=sent_at, source=source)


@dataclass(frozen=True, slots=True)
class _Problem:
    column: str
    text: str


def _phone(raw: str, country: str | None) -> str | _Problem:
    if not raw:
        return _Problem("phone", "an sms touch needs a phone number")
    try:
        phone = normalize_phone(raw, country)
    except InvalidPhone as exc:
        return _Problem("phone", str(exc))
    return phone or _Problem("phone", "an sms touch needs a phone number")


def _email(raw: str) -> str | _Problem:
    email = raw.lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in email):
        return _Problem("email", "an email touch needs an email address like name@example.com")
    if len(email) > MAX_ADDRESS_LENGTH:
        return _Problem("email", f"longer than {MAX_ADDRESS_LENGTH} characters")
    return email


def _sent_at(raw: str) -> datetime | _Problem:
    example = "e.g. 2026-11-29T12:00:00+01:00"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return _Problem("sent_at", f"not an ISO 8601 time ({example})")
    if moment.tzinfo is None:
        return _Problem("sent_at", f"needs a UTC offset ({example})")
    return moment.astimezone(UTC)


def _insert_ignoring_duplicates(conn: Connection, table: Table) -> Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
