"""The CSV files an operator imports: touches, consent given elsewhere, discount code pools.

Each reader returns what it read or raises an error whose `problems` name the line (and column)
of every problem, so a file is fixed in one go; nothing is stored from a file with problems.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cartback.domain.addresses import normalize_email
from cartback.domain.phone import InvalidPhone, normalize_phone
from cartback.domain.records import ConsentEntry, Touch

TOUCH_CHANNELS = ("sms", "email")
TOUCH_COLUMNS = ("phone", "email", "channel", "sent_at", "source")
CONSENT_COLUMNS = ("store", "phone", "email", "channel", "granted", "occurred_at", "wording")
MAX_ADDRESS_LENGTH = 320
MAX_SOURCE_LENGTH = 128
MAX_CODE_LENGTH = 64
_YES = {"yes", "true", "1", "granted"}
_NO = {"no", "false", "0", "withdrawn", "revoked"}
_TIME_EXAMPLE = "e.g. 2026-11-29T12:00:00+01:00"


class FileProblems(ValueError):
    """A file that cannot be read; `problems` name the line and column of each."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:20]
        more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
        super().__init__("; ".join(shown) + more)
        self.problems = problems


class TouchFileError(FileProblems):
    pass


class ConsentFileError(FileProblems):
    pass


class CodeFileError(FileProblems):
    pass


# touches -------------------------------------------------------------------------------------


def read_touches_csv(text: str, *, default_country: str | None = None) -> list[Touch]:
    """Touches from CSV text with the header `phone,email,channel,sent_at,source`.

    `channel` picks the address: sms uses `phone` (normalised to E.164; numbers without a
    country code are read as `default_country`), email uses `email` (lower-cased). `sent_at`
    is ISO 8601 with a UTC offset. Other columns are ignored; blank lines are skipped.
    """
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in TOUCH_COLUMNS if name not in header]
    if missing:
        raise TouchFileError([f"line 1: the header lacks the column(s) {', '.join(missing)}"])
    reader.fieldnames = header
    found: list[Touch] = []
    problems: list[str] = []
    for row in reader:
        cells = {name: (row.get(name) or "").strip() for name in TOUCH_COLUMNS}
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
    channel = cells["channel"].lower()
    if channel not in TOUCH_CHANNELS:
        problems.append(f"{where}, column channel: expected sms or email, got {channel!r}")
        return None
    address = _touch_phone(cells["phone"], country) if channel == "sms" else _email(cells["email"])
    sent_at = _sent_at(cells["sent_at"])
    source = cells["source"]
    found: list[str] = []
    if isinstance(address, _Problem):
        found.append(f"{where}, column {address.column}: {address.text}")
    if isinstance(sent_at, _Problem):
        found.append(f"{where}, column sent_at: {sent_at.text}")
    if not source or len(source) > MAX_SOURCE_LENGTH:
        found.append(f"{where}, column source: needs 1 to {MAX_SOURCE_LENGTH} characters")
    problems.extend(found)
    if isinstance(address, _Problem) or isinstance(sent_at, _Problem) or found:
        return None
    return Touch(address=address, channel=channel, sent_at=sent_at, source=source)


@dataclass(frozen=True, slots=True)
class _Problem:
    column: str
    text: str


def _touch_phone(raw: str, country: str | None) -> str | _Problem:
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
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return _Problem("sent_at", f"not an ISO 8601 time ({_TIME_EXAMPLE})")
    if moment.tzinfo is None:
        return _Problem("sent_at", f"needs a UTC offset ({_TIME_EXAMPLE})")
    return moment.astimezone(UTC)


# consent -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    store_id: str
    channel: str  # sms | email
    address: str  # E.164 or lower-cased email
    granted: bool
    occurred_at: datetime
    wording: str

    def entry(self, source: str, now: datetime) -> ConsentEntry:
        return ConsentEntry(
            store_id=self.store_id,
            channel=self.channel,
            address=self.address,
            granted=self.granted,
            source=source,
            occurred_at=self.occurred_at,
            recorded_at=now,
            detail=self.wording,
        )


def address_for(channel: str, phone: str | None, email: str | None, country: str | None) -> str:
    """The address consent is recorded under; ValueError naming the field when unusable."""
    if channel == "email":
        address = normalize_email(email)
        if address is None or "@" not in address:
            raise ValueError("email: an email consent needs an email address")
        return address
    if channel != "sms":
        raise ValueError(f"channel: {channel!r} is not sms or email")
    try:
        e164 = normalize_phone(phone, country)
    except InvalidPhone as exc:
        raise ValueError(f"phone: {exc}") from None
    if e164 is None:
        raise ValueError("phone: an sms consent needs a phone number")
    return e164


def read_consent_csv(text: str, stores: dict[str, str | None]) -> list[ConsentRecord]:
    """Rows of `store,phone,email,channel,granted,occurred_at,wording`; `stores` maps each known
    store id to its default country (for numbers written without +CC)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CONSENT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ConsentFileError([f"line 1: missing columns {', '.join(missing)}"])
    records, problems = [], []
    for line, row in enumerate(reader, start=2):
        try:
            records.append(_consent(row, stores))
        except ValueError as exc:
            problems.append(f"line {line}, column {exc}")
    if problems:
        raise ConsentFileError(problems)
    return records


def _consent(row: dict[str, str], stores: dict[str, str | None]) -> ConsentRecord:
    store = (row.get("store") or "").strip()
    if store not in stores:
        raise ValueError(f"store: {store!r} is not configured")
    channel = (row.get("channel") or "").strip().lower()
    address = address_for(channel, row.get("phone"), row.get("email"), stores[store])
    answer = (row.get("granted") or "").strip().lower()
    if answer not in _YES | _NO:
        raise ValueError(f"granted: {answer!r} is not yes or no")
    try:
        when = datetime.fromisoformat((row.get("occurred_at") or "").strip())
    except ValueError:
        raise ValueError("occurred_at: not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise ValueError("occurred_at: needs a UTC offset, e.g. 2026-11-29T10:00:00+01:00")
    wording = (row.get("wording") or "").strip()
    if not wording:
        raise ValueError("wording: the words the person agreed to are required")
    return ConsentRecord(store, channel, address, answer in _YES, when, wording)


# discount codes ------------------------------------------------------------------------------


def read_codes_csv(source: str | Path) -> list[str]:
    """Codes from a CSV with one code per row; a `code` header row is optional.

    A `Path` is read as a file (UTF-8, a BOM is fine); a `str` is the CSV text itself. Blank
    lines are skipped and codes stripped; codes keep their case and order.
    """
    text = source.read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    codes: list[str] = []
    problems: list[str] = []
    for row in reader:
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if not codes and not problems and len(cells) == 1 and cells[0].lower() == "code":
            continue
        problem = _row_problem(cells)
        if problem:
            problems.append(f"line {reader.line_num}: {problem}")
        else:
            codes.append(cells[0])
    if problems:
        raise CodeFileError(problems)
    return codes


def clean_codes(codes: Iterable[str]) -> list[str]:
    """Codes stripped, in order; ValueError naming the first unusable one."""
    given = [code.strip() for code in codes]
    for code in given:
        problem = _code_problem(code)
        if problem:
            raise ValueError(f"discount code {code!r} {problem}")
    return given


def _row_problem(cells: list[str]) -> str | None:
    if any(cells[1:]):
        return f"expected one code per row, found {sum(1 for c in cells if c)} values"
    problem = _code_problem(cells[0])
    return f"code {cells[0]!r} {problem}" if problem else None


def _code_problem(code: str) -> str | None:
    if not code:
        return "is empty"
    if len(code) > MAX_CODE_LENGTH:
        return f"is longer than {MAX_CODE_LENGTH} characters"
    if any(char.isspace() for char in code):
        return "contains a space"
    return None
