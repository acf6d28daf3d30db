"""Past shop events, as the backtest reads them: each at the instant it happened.

A `HistoryEvent` carries either the raw body of a generic webhook (JSON Lines files: the live
parser reads it, so a line the server would refuse is refused here too) or domain events already
made (Shopify's CSV exports, `shopify_csv.py`). Events are replayed in the order they happened.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cartback.domain.events import Event
from cartback.errors import FileError


class HistoryFileError(FileError):
    """An events file that cannot be replayed; `problems` name the line of each."""


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    at: datetime  # when it happened in the shop, aware UTC
    store_id: str
    key: str | None  # the sender's id: a repeated one is a duplicate delivery, as live
    body: bytes | None = None  # a generic webhook body (JSON), parsed by the live parser
    events: tuple[Event, ...] = ()  # or the domain events, already made
    origin: str = "generic"  # the platform name the delivery is recorded under


def aware_instant(text: object) -> datetime:
    """An ISO 8601 instant with its offset, in UTC; ValueError saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("missing")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return moment.astimezone(UTC)


def read_jsonl(text: str, store_ids: Sequence[str], name: str = "events") -> list[HistoryEvent]:
    """Generic webhook events, one JSON object a line, each with `occurred_at`.

    A line names its store with `"store": "<id>"` (a field the webhook schema ignores); without
    it the config must have exactly one store. Blank lines are skipped. Problems of every line
    are gathered into one `HistoryFileError`; the body itself is checked when it is replayed,
    where a line the live server would refuse is counted as a failed delivery.
    """
    problems: list[str] = []
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(_jsonl_event(line, store_ids))
        except ValueError as exc:
            problems.append(f"{name} line {number}: {exc}")
    if problems:
        raise HistoryFileError(problems)
    return found


def _jsonl_event(line: str, store_ids: Sequence[str]) -> HistoryEvent:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    try:
        at = aware_instant(data.get("occurred_at"))
    except ValueError as exc:
        raise ValueError(f"occurred_at: {exc}") from None
    key = data.get("event_id")
    return HistoryEvent(
        at=at,
        store_id=_store(data.get("store"), store_ids),
        key=None if key is None else str(key),
        body=line.encode(),
    )


def _store(named: object, store_ids: Sequence[str]) -> str:
    if named is None:
        if len(store_ids) == 1:
            return store_ids[0]
        raise ValueError("store: missing (the config has several stores; name one per line)")
    if not isinstance(named, str) or named not in store_ids:
        raise ValueError(f"store: {named!r} is not a configured store")
    return named


def in_order(events: Iterable[HistoryEvent]) -> list[HistoryEvent]:
    """By the time they happened; events of one instant keep the order they were read in."""
    return sorted(events, key=lambda event: event.at)


def within(
    events: Iterable[HistoryEvent], since: datetime | None, until: datetime | None
) -> list[HistoryEvent]:
    """The events from `since` (inclusive) to `until` (exclusive)."""
    return [
        event
        for event in events
        if (since is None or event.at >= since) and (until is None or event.at < until)
    ]
