"""Sending windows: the local hours and weekdays in which a country allows marketing messages.

They come on top of the store's quiet hours: a send must fit both. Built-in windows follow the
strictest published rule we know of for each place (sources in `LEGAL_WINDOWS`); a store can
override any of them in its configuration, and its own default covers everywhere else.

`next_allowed_in` finds the earliest allowed minute in every zone of the recipient. Whether an
instant is allowed depends only on each zone's wall clock and date, so, as in `quiet_hours`, only
the instants where a wall clock reaches the window's start or midnight, or jumps at a
daylight-saving transition, can turn a wait into an allowed minute; just those are checked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import geocoder

from cartback.domain.quiet_hours import (
    QuietHours,
    _candidates,
    _ceil_minute,
    _require_aware,
    _zone_infos,
)

SEARCH_HORIZON = timedelta(days=14)
EVERY_DAY = frozenset(range(7))
MONDAY_TO_SATURDAY = frozenset(range(6))
_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class SendingWindow:
    """Allowed local times [start, end) on the allowed weekdays (0 = Monday .. 6 = Sunday).

    start > end wraps past midnight (the weekday is that of the local date at the instant);
    start == end allows the whole day.
    """

    start: time
    end: time
    days: frozenset[int] = EVERY_DAY

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("sending windows are local wall-clock times; give them without a zone")
        if not self.days or not self.days <= EVERY_DAY:
            raise ValueError(f"sending window days must be weekdays 0..6, got {sorted(self.days)}")

    @classmethod
    def outside(cls, quiet: QuietHours, days: frozenset[int] = EVERY_DAY) -> SendingWindow:
        """The window left by the store's quiet hours."""
        return cls(quiet.end, quiet.start, days)

    def quiet_hours(self) -> QuietHours:
        return QuietHours(self.end, self.start)

    def allows(self, local: datetime) -> bool:
        return local.weekday() in self.days and not self.quiet_hours().contains(local.time())

    def __str__(self) -> str:
        days = (
            "every day"
            if self.days == EVERY_DAY
            else ",".join(_WEEKDAY_NAMES[day] for day in sorted(self.days))
        )
        return f"{self.start:%H:%M}-{self.end:%H:%M} {days}"


def _window(start: int, end: int, days: frozenset[int] = EVERY_DAY) -> SendingWindow:
    return SendingWindow(time(start), time(end), days)


GENERAL_DEFAULT = _window(9, 21)

# Keys: ISO 3166-1 country, or ISO 3166-2 "country-subdivision". The rules are written for
# telephone solicitation; US courts and regulators apply them to marketing texts as well.
# Where a state's hours differ by weekday, the window is the intersection (stricter) of them.
LEGAL_WINDOWS: Mapping[str, SendingWindow] = {
    # Federal TCPA, 47 CFR 64.1200(c)(1): not before 8 a.m. or after 9 p.m. local time.
    "US": _window(8, 21),
    # Fla. Stat. 501.616(6)(a) and the 2021 FTSA amendment (SB 1120): 8 a.m. to 8 p.m.
    "US-FL": _window(8, 20),
    # Oklahoma Telephone Solicitation Act of 2022 (15 O.S. 775C.1 ff.): 8 a.m. to 8 p.m.
    "US-OK": _window(8, 20),
    # Maryland Stop the Spam Calls Act (2023): 8 a.m. to 8 p.m.
    "US-MD": _window(8, 20),
    # RCW 19.158.040(2): not before 8:00 a.m. or after 8:00 p.m.
    "US-WA": _window(8, 20),
    # From compiled state tables (see the notes); confirm with counsel.
    "US-AL": _window(8, 20, MONDAY_TO_SATURDAY),
    "US-CT": _window(9, 20),
    "US-KY": _window(10, 21),
    "US-LA": _window(8, 20, MONDAY_TO_SATURDAY),
    "US-MA": _window(8, 20),
    "US-MI": _window(9, 21),
    "US-MN": _window(9, 21),
    "US-MS": _window(8, 20, MONDAY_TO_SATURDAY),
    "US-NJ": _window(8, 20),
    "US-NM": _window(9, 21),
    "US-NV": _window(9, 20),
    "US-RI": _window(10, 17),  # weekdays 9-18, weekends 10-17
    "US-TX": _window(12, 21),  # Mon-Sat 9-21, Sunday noon-21 (Tex. Bus. & Com. Code 301.051)
    # France: Code de la consommation D223-9 (calls: Mon-Fri 10-13 and 14-20, no public holidays)
    # does not cover SMS. Operators' rules for commercial SMS: none 20:00-08:00, on Sundays or
    # public holidays. Holidays are not modelled.
    "FR": _window(8, 20, MONDAY_TO_SATURDAY),
}


def window_for(
    country: str | None,
    subdivision: str | None,
    overrides: Mapping[str, SendingWindow],
    default: SendingWindow,
) -> SendingWindow:
    """The window for a recipient: the store's override, else the legal one, else `default`.

    The subdivision's entry (`US-FL`) wins over the country's (`US`) at each level.
    """
    for key in _keys(country, subdivision):
        if key in overrides:
            return overrides[key]
    for key in _keys(country, subdivision):
        if key in LEGAL_WINDOWS:
            return LEGAL_WINDOWS[key]
    return default


def _keys(country: str | None, subdivision: str | None) -> list[str]:
    if not country:
        return []
    code = country.strip().upper()
    keys = [code]
    if subdivision:
        sub = subdivision.strip().upper().removeprefix(f"{code}-")
        keys.insert(0, f"{code}-{sub}")
    return keys


def subdivision_for(e164: str) -> str | None:
    """The US state (postal code, e.g. "FL") a number's area code belongs to, else None.

    Read from the bundled offline geocoder data. A mobile number keeps its area code when its
    owner moves, so this is where the number is from, which is what the state laws presume.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.region_code_for_number(number) != "US":
        return None
    description = str(geocoder.description_for_number(number, "en"))
    _, _, suffix = description.rpartition(", ")
    if suffix in _US_STATES.values():
        return suffix
    return _US_STATES.get(description)


def is_allowed_in(instant: datetime, zones: Sequence[str], window: SendingWindow) -> bool:
    """True when the instant is inside the window in every one of the zones."""
    _require_aware(instant)
    return _allowed(instant, _zone_infos(zones), window)


def next_allowed_in(instant: datetime, zones: Sequence[str], window: SendingWindow) -> datetime:
    """The earliest instant >= `instant` inside the window in every zone, as aware UTC.

    An allowed `instant` is returned as is; otherwise the result is on a whole minute.
    Raises ValueError when nothing in the next `SEARCH_HORIZON` is allowed everywhere.
    """
    _require_aware(instant)
    infos = _zone_infos(zones)
    start = instant.astimezone(UTC)
    if _allowed(start, infos, window):
        return start
    horizon = start + SEARCH_HORIZON
    candidates = _candidates(start, horizon, infos, window.quiet_hours())
    candidates.update(_ceil_minute(m) for m in _midnights(start, horizon, infos) if m >= start)
    for candidate in sorted(candidates):
        if candidate <= horizon and _allowed(candidate, infos, window):
            return candidate
    raise ValueError(
        f"sending window {window} leaves no minute allowed in all of {', '.join(zones)} "
        f"within {SEARCH_HORIZON.days} days"
    )


def _allowed(instant: datetime, zones: Sequence[ZoneInfo], window: SendingWindow) -> bool:
    return all(window.allows(instant.astimezone(zone)) for zone in zones)


def _midnights(start: datetime, horizon: datetime, zones: Sequence[ZoneInfo]) -> Iterator[datetime]:
    """Each reading of 00:00 on each zone's wall clock (both folds), where the weekday turns."""
    for zone in zones:
        day = start.astimezone(zone).date()
        while day <= horizon.astimezone(zone).date() + timedelta(days=1):
            for fold in (0, 1):
                yield datetime.combine(day, time(0), tzinfo=zone).replace(fold=fold).astimezone(UTC)
            day += timedelta(days=1)


_US_STATES: Mapping[str, str] = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    "Washington D.C.": "DC", "District of Columbia": "DC",
}  # fmt: skip
