from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartback.domain.quiet_hours import parse_quiet_hours
from cartback.domain.sending_windows import (
    GENERAL_DEFAULT,
    LEGAL_WINDOWS,
    MONDAY_TO_SATURDAY,
    SEARCH_HORIZON,
    SendingWindow,
    is_allowed_in,
    next_allowed_in,
    subdivision_for,
    window_for,
)

NYC = "America/New_York"
PARIS = "Europe/Paris"
FLORIDA_NUMBER = "+13055551234"  # area code 305, Miami


def local(
    zone: str, year: int, month: int, day: int, hour: int, minute: int, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone))


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("number", "state"),
    [
        (FLORIDA_NUMBER, "FL"),
        ("+14055550123", "OK"),  # geocoder: "Oklahoma"
        ("+14105550123", "MD"),
        ("+12065550123", "WA"),  # geocoder: "Washington State"
        ("+14155550123", "CA"),  # geocoder: "San Francisco, CA"
        ("+12125550123", "NY"),
        ("+18005550123", None),  # toll free: no state
        ("+14165550123", None),  # Toronto: Canada, not a US state
        ("+33612345678", None),
        ("not a number", None),
    ],
)
def test_subdivision_for_us_numbers(number: str, state: str | None) -> None:
    assert subdivision_for(number) == state


def test_window_for_prefers_override_then_state_then_country_then_default() -> None:
    custom = SendingWindow(time(10), time(18))
    assert window_for("US", "FL", {}, GENERAL_DEFAULT) == SendingWindow(time(8), time(20))
    assert window_for("us", "US-FL", {}, GENERAL_DEFAULT) == LEGAL_WINDOWS["US-FL"]
    assert window_for("US", "NY", {}, GENERAL_DEFAULT) == SendingWindow(time(8), time(21))
    assert window_for("US", None, {"US-FL": custom}, GENERAL_DEFAULT) == LEGAL_WINDOWS["US"]
    assert window_for("US", "FL", {"US-FL": custom}, GENERAL_DEFAULT) == custom
    assert window_for("US", "FL", {"US": custom}, GENERAL_DEFAULT) == custom
    assert window_for("DK", None, {}, GENERAL_DEFAULT) == GENERAL_DEFAULT
    assert window_for(None, None, {}, GENERAL_DEFAULT) == GENERAL_DEFAULT
    france = window_for("FR", None, {}, GENERAL_DEFAULT)
    assert 6 not in france.days
    assert france.days == MONDAY_TO_SATURDAY


def test_window_from_store_quiet_hours() -> None:
    window = SendingWindow.outside(parse_quiet_hours("21:00", "09:00"))
    assert window == SendingWindow(time(9), time(21))
    assert str(window) == "09:00-21:00 every day"
    assert str(LEGAL_WINDOWS["FR"]) == "08:00-20:00 Mon,Tue,Wed,Thu,Fri,Sat"


def test_invalid_windows() -> None:
    with pytest.raises(ValueError, match="weekdays"):
        SendingWindow(time(8), time(20), frozenset({7}))
    with pytest.raises(ValueError, match="weekdays"):
        SendingWindow(time(8), time(20), frozenset())


def test_florida_number_at_half_past_eight_moves_to_eight_next_morning() -> None:
    window = window_for("US", subdivision_for(FLORIDA_NUMBER), {}, GENERAL_DEFAULT)
    result = next_allowed_in(local(NYC, 2024, 6, 3, 20, 30), [NYC], window)
    assert result == local(NYC, 2024, 6, 4, 8, 0)
    assert result.tzinfo is UTC


def test_federal_window_still_allows_half_past_eight_in_new_york() -> None:
    window = window_for("US", subdivision_for("+12125550123"), {}, GENERAL_DEFAULT)
    instant = local(NYC, 2024, 6, 3, 20, 30)
    assert next_allowed_in(instant, [NYC], window) == instant


def test_french_number_on_saturday_night_moves_to_monday_opening() -> None:
    window = window_for("FR", None, {}, GENERAL_DEFAULT)
    result = next_allowed_in(local(PARIS, 2024, 6, 1, 22, 0), [PARIS], window)  # a Saturday
    assert result == local(PARIS, 2024, 6, 3, 8, 0)


def test_french_sunday_afternoon_waits_for_monday() -> None:
    window = LEGAL_WINDOWS["FR"]
    assert not is_allowed_in(local(PARIS, 2024, 6, 2, 14, 0), [PARIS], window)
    result = next_allowed_in(local(PARIS, 2024, 6, 2, 14, 0), [PARIS], window)
    assert result == local(PARIS, 2024, 6, 3, 8, 0)


def test_allowed_instant_is_returned_unchanged_in_utc() -> None:
    instant = local(PARIS, 2024, 6, 3, 12, 34, 56)
    result = next_allowed_in(instant, [PARIS], LEGAL_WINDOWS["FR"])
    assert result == instant
    assert result.tzinfo is UTC


def test_new_york_spring_forward() -> None:
    # 2024-03-10 02:00 EST -> 03:00 EDT; the night before at 21:30 waits for 08:00 EDT.
    result = next_allowed_in(local(NYC, 2024, 3, 9, 21, 30), [NYC], LEGAL_WINDOWS["US"])
    assert result == utc(2024, 3, 10, 12, 0)


def test_new_york_fall_back() -> None:
    # 2024-11-03 02:00 EDT -> 01:00 EST; 08:00 EST is 13:00 UTC.
    result = next_allowed_in(local(NYC, 2024, 11, 2, 21, 30), [NYC], LEGAL_WINDOWS["US"])
    assert result == utc(2024, 11, 3, 13, 0)


def test_window_opening_inside_the_spring_forward_gap() -> None:
    window = SendingWindow(time(2, 30), time(20))
    result = next_allowed_in(local(NYC, 2024, 3, 9, 21, 0), [NYC], window)
    assert result == utc(2024, 3, 10, 7, 0)  # 03:00 EDT, the first real instant after 02:30


def test_paris_spring_forward_on_a_sunday_with_no_sunday_rule() -> None:
    # Europe springs forward Sunday 2024-03-31; a French Saturday evening waits for Monday.
    result = next_allowed_in(local(PARIS, 2024, 3, 30, 20, 30), [PARIS], LEGAL_WINDOWS["FR"])
    assert result == local(PARIS, 2024, 4, 1, 8, 0)
    assert result == utc(2024, 4, 1, 6, 0)


def test_paris_fall_back() -> None:
    window = SendingWindow(time(9), time(21))
    result = next_allowed_in(local(PARIS, 2024, 10, 26, 22, 0), [PARIS], window)
    assert result == utc(2024, 10, 27, 8, 0)  # 09:00 CET


def test_every_zone_must_be_inside_the_window() -> None:
    zones = [NYC, "America/Los_Angeles"]
    result = next_allowed_in(local(NYC, 2024, 6, 3, 9, 0), zones, LEGAL_WINDOWS["US"])
    assert result == local("America/Los_Angeles", 2024, 6, 3, 8, 0)


def test_no_shared_minute_is_a_value_error() -> None:
    window = SendingWindow(time(9), time(11))
    with pytest.raises(ValueError, match="no minute allowed"):
        next_allowed_in(utc(2024, 6, 3, 0, 0), ["Asia/Tokyo", "America/Los_Angeles"], window)


def test_naive_and_zoneless_input_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        next_allowed_in(datetime(2024, 6, 3, 12, 0), [PARIS], GENERAL_DEFAULT)
    with pytest.raises(ValueError, match="at least one time zone"):
        next_allowed_in(utc(2024, 6, 3, 12, 0), [], GENERAL_DEFAULT)


ZONES = [
    "UTC",
    NYC,
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    PARIS,
    "Europe/Copenhagen",
    "America/St_Johns",
    "America/Santiago",  # changes at midnight
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
]

instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
clock_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 0, 15, 30, 45]))
day_sets = st.one_of(
    st.just(frozenset(range(7))),
    st.just(MONDAY_TO_SATURDAY),
    st.frozensets(st.integers(0, 6), min_size=1),
)
windows = st.one_of(
    st.sampled_from(list(LEGAL_WINDOWS.values())),
    st.builds(SendingWindow, clock_times, clock_times, day_sets),
)
zone_lists = st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True)


def _check(instant: datetime, zones: list[str], window: SendingWindow, full_scan: bool) -> None:
    try:
        result = next_allowed_in(instant, zones, window)
    except ValueError:
        return
    assert result >= instant
    assert is_allowed_in(result, zones, window)
    if result == instant:
        return
    assert result.second == result.microsecond == 0
    assert result - instant <= SEARCH_HORIZON + timedelta(minutes=1)
    before = result - timedelta(minutes=1)
    if before >= instant:
        assert not is_allowed_in(before, zones, window)
    if full_scan:
        minute = instant.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while minute < result:
            assert not is_allowed_in(minute, zones, window), minute
            minute += timedelta(minutes=1)


@given(instants, zone_lists, windows)
def test_result_is_inside_the_window_everywhere_and_not_later_than_needed(
    instant: datetime, zones: list[str], window: SendingWindow
) -> None:
    _check(instant, zones, window, full_scan=False)


@settings(max_examples=40, deadline=None)
@given(instants, zone_lists, windows)
def test_no_earlier_minute_is_allowed(
    instant: datetime, zones: list[str], window: SendingWindow
) -> None:
    _check(instant, zones, window, full_scan=True)


DST_DAYS = [
    utc(2024, 3, 10, 7, 0),  # New York springs forward
    utc(2024, 11, 3, 6, 0),  # New York falls back
    utc(2024, 3, 31, 1, 0),  # Europe springs forward
    utc(2024, 10, 27, 1, 0),  # Europe falls back
    utc(2024, 4, 7, 3, 0),  # Santiago falls back at midnight
    utc(2024, 9, 8, 4, 0),  # Santiago springs forward at midnight
    utc(2024, 4, 6, 16, 30),  # Adelaide falls back
]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(DST_DAYS), st.integers(-48 * 60, 12 * 60), zone_lists, windows)
def test_around_dst_transitions(
    transition: datetime, minutes: int, zones: list[str], window: SendingWindow
) -> None:
    instant = transition + timedelta(minutes=minutes, seconds=minutes % 7 * 5)
    _check(instant, zones, window, full_scan=True)
