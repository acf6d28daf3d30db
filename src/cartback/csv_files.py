"""The CSV files cartback imports, read in one place with one kind of error.

- touches (`phone,email,channel,sent_at,source`): promotional sends of other systems;
- consent (`store,phone,email,channel,granted,occurred_at,wording`): consent given elsewhere;
- discount codes (one code per row, an optional `code` header): a store's pool of codes.

Header names are matched without regard to case or order, other columns are ignored, blank
lines are skipped and a byte order mark is fine. A file with problems is refused as a whole:
`CsvFileError.problems` names the line (and column) of each, and never repeats a phone number.
Addresses go through the one phone and the one email normaliser, as in the API.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from cartback.domain.consent import ConsentRecord
from cartback.domain.discounts import code_problem
from cartback.domain.emails import require_email
from cartback.domain.phone import require_phone
from cartback.domain.records import Touch
from cartback.errors import FileError

__all__ = [
    "CONSENT_COLUMNS",
    "TOUCH_COLUMNS",
    "CsvFileError",
    "read_codes_csv",
    "read_consent_csv",
    "read_touches_csv",
]

TOUCH_COLUMNS = ("phone", "email", "channel", "sent_at", "source")
CONSENT_COLUMNS = ("store", "phone", "email", "channel", "granted", "occurred_at", "wording")
CODE_HEADER = "code"
MAX_SOURCE_LENGTH = 128
_YES = frozenset({"yes", "true", "1", "granted"})
_NO = frozenset({"no", "false", "0", "withdrawn", "revoked"})
_TIME_EXAMPLE = "e.g. 2026-11-29T12:00:00+01:00"

T = TypeVar("T")


class CsvFileError(FileError):
    """A CSV file that cannot be imported; `problems` name the line and column of each."""


class _Line:
    """One row's cells, collecting a problem for each column that cannot be read."""

    def __init__(self, number: int, cells: dict[str, str], problems: list[str]) -> None:
        self.number = number
        self.cells = cells
        self.problems = problems

    def read(self, column: str, reader: Callable[[str], T]) -> T | None:
        try:
            return reader(self.cells[column])
        except ValueError as exc:
            self.problems.append(f"line {self.number}, column {column}: {exc}")
            return None


def csv_rows(text: str, needed: tuple[str, ...], where: str = "line 1") -> csv.DictReader[str]:
    """Rows by lower-cased header name (a byte order mark is fine); `CsvFileError` naming the
    needed columns the header lacks."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in needed if name not in header]
    if missing:
        raise CsvFileError([f"{where}: the header lacks the column(s) {', '.join(missing)}"])
    reader.fieldnames = header
    return reader


def _lines(text: str, columns: tuple[str, ...], problems: list[str]) -> Iterator[_Line]:
    reader = csv_rows(text, columns)
    for row in reader:
        cells = {name: (row.get(name) or "").strip() for name in columns}
        if any(cells.values()):
            yield _Line(reader.line_num, cells, problems)


def _read(text: str, columns: tuple[str, ...], build: Callable[[_Line], T | None]) -> list[T]:
    """Every row `build` makes something of; CsvFileError with every problem of every row."""
    problems: list[str] = []
    found = [item for line in _lines(text, columns, problems) if (item := build(line)) is not None]
    return _finished(found, problems)


def _finished(found: list[T], problems: list[str]) -> list[T]:
    if problems:
        raise CsvFileError(problems)
    return found


# --- touches ----------------------------------------------------------------------------------


def read_touches_csv(text: str, *, default_country: str | None = None) -> list[Touch]:
    """Touches from CSV text with the columns `phone,email,channel,sent_at,source`.

    `channel` picks the address: sms uses `phone` (E.164; numbers without a country code are
    read as `default_country`), email uses `email`. `sent_at` is ISO 8601 with a UTC offset.
    """
    return _read(text, TOUCH_COLUMNS, lambda line: _touch(line, default_country))


def _touch(line: _Line, country: str | None) -> Touch | None:
    channel = line.read("channel", _channel)
    if channel is None:
        return None
    address = _address(line, channel, country)
    sent_at = line.read("sent_at", _aware_time)
    source = line.read("source", _source)
    if address is None or sent_at is None or source is None:
        return None
    return Touch(address=address, channel=channel, sent_at=sent_at, source=source)


def _address(line: _Line, channel: str, country: str | None) -> str | None:
    """The channel's address, through the one phone or email normaliser."""
    if channel == "sms":
        return line.read("phone", lambda raw: require_phone(raw, country))
    return line.read("email", require_email)


def _channel(raw: str) -> str:
    channel = raw.lower()
    if channel not in ("sms", "email"):
        raise ValueError(f"expected sms or email, got {channel!r}")
    return channel


def _aware_time(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time ({_TIME_EXAMPLE})") from None
    if moment.tzinfo is None:
        raise ValueError(f"needs a UTC offset ({_TIME_EXAMPLE})")
    return moment.astimezone(UTC)


def _source(raw: str) -> str:
    if not raw or len(raw) > MAX_SOURCE_LENGTH:
        raise ValueError(f"needs 1 to {MAX_SOURCE_LENGTH} characters")
    return raw


# --- consent ----------------------------------------------------------------------------------


def read_consent_csv(text: str, stores: dict[str, str | None]) -> list[ConsentRecord]:
    """Rows of `store,phone,email,channel,granted,occurred_at,wording`; `stores` maps each known
    store id to its default country (for numbers written without +CC)."""
    return _read(text, CONSENT_COLUMNS, lambda line: _consent(line, stores))


def _consent(line: _Line, stores: dict[str, str | None]) -> ConsentRecord | None:
    store = line.read("store", lambda raw: _known_store(raw, stores))
    channel = line.read("channel", _channel)
    if store is None or channel is None:
        return None
    address = _address(line, channel, stores[store])
    granted = line.read("granted", _granted)
    occurred_at = line.read("occurred_at", _aware_time)
    wording = line.read("wording", _wording)
    if address is None or granted is None or occurred_at is None or wording is None:
        return None
    return ConsentRecord(store, channel, address, granted, occurred_at, wording)


def _known_store(raw: str, stores: dict[str, str | None]) -> str:
    if raw not in stores:
        raise ValueError(f"{raw!r} is not configured")
    return raw


def _granted(raw: str) -> bool:
    answer = raw.lower()
    if answer not in _YES | _NO:
        raise ValueError(f"{answer!r} is not yes or no")
    return answer in _YES


def _wording(raw: str) -> str:
    if not raw:
        raise ValueError("the words the person agreed to are required")
    return raw


# --- discount codes ---------------------------------------------------------------------------


def read_codes_csv(source: str | Path) -> list[str]:
    """Codes from a CSV with one code per row; a `code` header row is optional.

    A `Path` is read as a file (UTF-8, a BOM is fine); a `str` is the CSV text itself. Codes
    are stripped and keep their case and order.
    """
    text = source.read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    codes: list[str] = []
    problems: list[str] = []
    for row in reader:
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        first = not codes and not problems
        if first and len(cells) == 1 and cells[0].lower() == CODE_HEADER:
            continue
        problem = _code_row_problem(cells)
        if problem:
            problems.append(f"line {reader.line_num}: {problem}")
        else:
            codes.append(cells[0])
    return _finished(codes, problems)


def _code_row_problem(cells: list[str]) -> str | None:
    if any(cells[1:]):
        return f"expected one code per row, found {sum(1 for c in cells if c)} values"
    problem = code_problem(cells[0])
    return f"code {cells[0]!r} {problem}" if problem else None
