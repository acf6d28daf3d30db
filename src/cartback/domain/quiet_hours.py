"""Quiet hours: the local night in which nobody is messaged, in every zone they may be in.

Whether an instant is quiet depends only on the wall-clock time in each zone. Moving forward in
time, an instant can only become allowed where some zone's wall clock reaches the window's end
or jumps at a daylight-saving transition. `next_allowed` therefore checks just those instants,
in order, instead of walking minute by minute.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SEARCH_HORIZON = timedelta(days=3)
_MINUTE = timedelta(minutes=1)
_OFFSET_PROBE_STEP = timedelta(hours=1)
_HH_MM = re.compile(r"(\d{1,2}):(\d{2})")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local times in which sending is not allowed: [start, end), wrapping past midnight when
    start > end. start == end means there is no quiet time."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local wall-clock times; give them without a zone")

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def parse_quiet_hours(start: str, end: str) -> QuietHours:
    return QuietHours(_parse_hh_mm(start, "start"), _parse_hh_mm(end, "end"))


def is_quiet(instant: datetime, zones: Sequence[str], window: QuietHours) -> bool:
    """True when the instant falls in the window in any of the zones."""
    _require_aware(instant)
    return _is_quiet(instant, _zone_infos(zones), window)


def next_allowed(instant: datetime, zones: Sequence[str], window: QuietHours) -> datetime:
    """The earliest instant >= `instant` allowed in every zone, as aware UTC.

    An allowed `instant` is returned as is; otherwise the result is on a whole minute.
    Raises ValueError when no minute in the next `SEARCH_HORIZON` is allowed everywhere
    (zones too far apart for the window).
    """
    _require_aware(instant)
    infos = _zone_infos(zones)
    start = instant.astimezone(UTC)
    if not _is_quiet(start, infos, window):
        return start
    horizon = start + SEARCH_HORIZON
    for candidate in sorted(_candidates(start, horizon, infos, window)):
        if not _is_quiet(candidate, infos, window):
            return candidate
    raise ValueError(
        f"quiet hours {window.start:%H:%M}-{window.end:%H:%M} leave no minute allowed in all of "
        f"{', '.join(zones)} within {SEARCH_HORIZON.days} days"
    )


def _parse_hh_mm(value: str, field: str) -> time:
    match = _HH_MM.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"quiet hours {field}: expected HH:MM (24-hour clock), got {value!r}")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"quiet hours {field}: {value!r} is not a time of day")
    return time(hour, minute)


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got naive {instant.isoformat()}")


def _zone_infos(zones: Sequence[str]) -> tuple[ZoneInfo, ...]:
    if not zones:
        raise ValueError("quiet hours need at least one time zone; pass the store's as fallback")
    try:
        return tuple(ZoneInfo(zone) for zone in zones)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone in {list(zones)!r}: {exc}") from None


def _is_quiet(instant: datetime, zones: Sequence[ZoneInfo], window: QuietHours) -> bool:
    return any(window.contains(instant.astimezone(zone).time()) for zone in zones)


def _candidates(
    start: datetime, horizon: datetime, zones: Sequence[ZoneInfo], window: QuietHours
) -> set[datetime]:
    """Whole minutes in [start, horizon] at which the quiet status can turn to allowed."""
    found = {_ceil_minute(start)}
    for zone in zones:
        points = [*_window_ends(start, horizon, zone, window), *_transitions(start, horizon, zone)]
        found.update(_ceil_minute(point) for point in points if start <= point <= horizon)
    return found


def _window_ends(
    start: datetime, horizon: datetime, zone: ZoneInfo, window: QuietHours
) -> Iterator[datetime]:
    """Each reading of the window's end on the zone's wall clock, both folds.

    In a fall-back overlap both instants are real; in a spring-forward gap neither is, and the
    real exit is the transition itself, which `_transitions` supplies.
    """
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = horizon.astimezone(zone).date() + timedelta(days=1)
    for day in _days(first_day, last_day):
        wall = datetime.combine(day, window.end)
        for fold in (0, 1):
            yield wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)


def _transitions(start: datetime, horizon: datetime, zone: ZoneInfo) -> Iterator[datetime]:
    """Instants at which the zone's UTC offset changes, found by probing and bisecting."""
    probe = start.replace(second=0, microsecond=0) - _OFFSET_PROBE_STEP
    while probe <= horizon:
        following = probe + _OFFSET_PROBE_STEP
        if probe.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            yield _bisect_transition(probe, following, zone)
        probe = following


def _bisect_transition(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """First whole second in (before, after] with the offset `after` has; both whole seconds."""
    offset_before = before.astimezone(zone).utcoffset()
    low, high = 0, int((after - before).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(zone).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return before + timedelta(seconds=high)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _ceil_minute(instant: datetime) -> datetime:
    floor = instant.replace(second=0, microsecond=0)
    return floor if floor == instant else floor + _MINUTE
