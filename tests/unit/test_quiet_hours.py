from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartback.domain.quiet_hours import (
    SEARCH_HORIZON,
    QuietHours,
    is_quiet,
    next_allowed,
    parse_quiet_hours,
)

CPH = "Europe/Copenhagen"
NYC = "America/New_York"
LAX = "America/Los_Angeles"
NIGHT = parse_quiet_hours("21:00", "09:00")


def local(
    zone: str,
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: int = 0,
    *,
    fold: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone), fold=fold)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_parse_quiet_hours() -> None:
    assert parse_quiet_hours("21:00", " 9:30 ") == QuietHours(time(21, 0), time(9, 30))


@pytest.mark.parametrize("bad", ["", "21", "21:0", "24:00", "12:60", "9pm", "21:00:00"])
def test_parse_quiet_hours_rejects_bad_times(bad: str) -> None:
    with pytest.raises(ValueError, match="quiet hours start"):
        parse_quiet_hours(bad, "09:00")


def test_quiet_late_evening_moves_to_nine_next_morning() -> None:
    result = next_allowed(local(CPH, 2024, 6, 1, 22, 30), [CPH], NIGHT)
    assert result == local(CPH, 2024, 6, 2, 9, 0)
    assert result.tzinfo is UTC


def test_half_a_minute_before_the_end_moves_to_the_end() -> None:
    result = next_allowed(local(CPH, 2024, 6, 1, 8, 59, 30), [CPH], NIGHT)
    assert result == local(CPH, 2024, 6, 1, 9, 0)


def test_allowed_instant_is_unchanged() -> None:
    instant = local(CPH, 2024, 6, 1, 14, 7, 13)
    assert not is_quiet(instant, [CPH], NIGHT)
    assert next_allowed(instant, [CPH], NIGHT) == instant


def test_window_edges() -> None:
    assert is_quiet(local(CPH, 2024, 6, 1, 21, 0), [CPH], NIGHT)
    assert is_quiet(local(CPH, 2024, 6, 1, 20, 59, 59), [CPH], NIGHT) is False
    assert is_quiet(local(CPH, 2024, 6, 1, 9, 0), [CPH], NIGHT) is False
    assert is_quiet(local(CPH, 2024, 6, 1, 2, 0), [CPH], NIGHT)


def test_same_day_window() -> None:
    lunch = parse_quiet_hours("12:00", "13:30")
    assert is_quiet(local(CPH, 2024, 6, 1, 12, 45), [CPH], lunch)
    assert not is_quiet(local(CPH, 2024, 6, 1, 23, 0), [CPH], lunch)
    result = next_allowed(local(CPH, 2024, 6, 1, 12, 45), [CPH], lunch)
    assert result == local(CPH, 2024, 6, 1, 13, 30)


def test_equal_start_and_end_is_never_quiet() -> None:
    window = parse_quiet_hours("22:00", "22:00")
    for hour in range(24):
        instant = local(CPH, 2024, 6, 1, hour, 0)
        assert not is_quiet(instant, [CPH], window)
        assert next_allowed(instant, [CPH], window) == instant


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        is_quiet(datetime(2024, 6, 1, 12, 0), [CPH], NIGHT)
    with pytest.raises(ValueError, match="naive"):
        next_allowed(datetime(2024, 6, 1, 12, 0), [CPH], NIGHT)


def test_no_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one time zone"):
        is_quiet(utc(2024, 6, 1, 12, 0), [], NIGHT)


def test_unknown_zone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        is_quiet(utc(2024, 6, 1, 12, 0), ["Mars/Olympus"], NIGHT)


def test_non_utc_input_gives_utc_output() -> None:
    result = next_allowed(local(NYC, 2024, 6, 1, 23, 0), [NYC], NIGHT)
    assert result == utc(2024, 6, 2, 13, 0)
    assert result.tzinfo is UTC


# Daylight saving: Copenhagen springs forward 2024-03-31 02:00 -> 03:00 and falls back
# 2024-10-27 03:00 -> 02:00; New York 2024-03-10 02:00 -> 03:00 and 2024-11-03 02:00 -> 01:00.


def test_spring_forward_night_copenhagen() -> None:
    result = next_allowed(local(CPH, 2024, 3, 30, 23, 0), [CPH], NIGHT)
    assert result == local(CPH, 2024, 3, 31, 9, 0)
    assert result == utc(2024, 3, 31, 7, 0)


def test_fall_back_night_copenhagen() -> None:
    result = next_allowed(local(CPH, 2024, 10, 26, 23, 0), [CPH], NIGHT)
    assert result == utc(2024, 10, 27, 8, 0)


def test_end_inside_spring_forward_gap_resolves_to_first_real_instant() -> None:
    window = parse_quiet_hours("21:00", "02:30")
    result = next_allowed(local(CPH, 2024, 3, 30, 23, 0), [CPH], window)
    assert result == local(CPH, 2024, 3, 31, 3, 0)
    assert result == utc(2024, 3, 31, 1, 0)


def test_end_inside_spring_forward_gap_new_york() -> None:
    window = parse_quiet_hours("21:00", "02:15")
    result = next_allowed(local(NYC, 2024, 3, 9, 23, 0), [NYC], window)
    assert result == utc(2024, 3, 10, 7, 0)  # 03:00 EDT


def test_ambiguous_end_in_fall_back_uses_the_first() -> None:
    window = parse_quiet_hours("21:00", "02:30")
    result = next_allowed(local(CPH, 2024, 10, 26, 23, 0), [CPH], window)
    # Compared in UTC: PEP 495 makes a time in the repeated hour unequal to any other zone's.
    assert result == local(CPH, 2024, 10, 27, 2, 30, fold=0).astimezone(UTC)
    assert result == utc(2024, 10, 27, 0, 30)


def test_ambiguous_end_in_fall_back_new_york() -> None:
    window = parse_quiet_hours("22:00", "01:30")
    result = next_allowed(local(NYC, 2024, 11, 2, 23, 0), [NYC], window)
    assert result == utc(2024, 11, 3, 5, 30)  # 01:30 EDT, the first of the two


def test_clock_falling_back_out_of_the_window() -> None:
    # Quiet from 02:30; at 03:00 CEST the clock falls back to 02:00 CET, before the window.
    window = parse_quiet_hours("02:30", "09:00")
    result = next_allowed(local(CPH, 2024, 10, 27, 2, 45, fold=0), [CPH], window)
    assert result == utc(2024, 10, 27, 1, 0)


def test_two_zones_must_both_be_awake() -> None:
    # 09:30 in New York is 06:30 in Los Angeles: wait for 09:00 on the west coast.
    instant = local(NYC, 2024, 6, 3, 9, 30)
    assert is_quiet(instant, [NYC, LAX], NIGHT)
    assert not is_quiet(instant, [NYC], NIGHT)
    assert next_allowed(instant, [NYC, LAX], NIGHT) == local(LAX, 2024, 6, 3, 9, 0)


def test_two_zones_evening() -> None:
    # 18:30 in Los Angeles is 21:30 in New York: wait for 09:00 in New York next morning.
    instant = local(LAX, 2024, 6, 3, 18, 30)
    assert next_allowed(instant, [NYC, LAX], NIGHT) == local(LAX, 2024, 6, 4, 9, 0)


def test_zones_too_far_apart_for_the_window() -> None:
    long_night = parse_quiet_hours("18:00", "10:00")
    with pytest.raises(ValueError, match="no minute allowed"):
        next_allowed(utc(2024, 6, 3, 2, 0), ["Asia/Tokyo", LAX], long_night)


ZONES = [
    "UTC",
    CPH,
    "Europe/London",
    NYC,
    LAX,
    "America/St_Johns",
    "America/Santiago",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Auckland",
    "Pacific/Kiritimati",
]

instants = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2035, 12, 31),
    timezones=st.just(UTC),
)
clock_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 0, 15, 30, 45, 59]))
windows = st.builds(QuietHours, clock_times, clock_times)
zone_lists = st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True)


def _first_allowed_minute_by_scanning(
    instant: datetime, zones: list[str], window: QuietHours
) -> datetime | None:
    if not is_quiet(instant, zones, window):
        return instant
    minute = instant.replace(second=0, microsecond=0)
    if minute < instant:
        minute += timedelta(minutes=1)
    while minute <= instant + SEARCH_HORIZON:
        if not is_quiet(minute, zones, window):
            return minute
        minute += timedelta(minutes=1)
    return None


@given(instants, zone_lists, windows)
def test_result_is_allowed_everywhere_and_not_later_than_needed(
    instant: datetime, zones: list[str], window: QuietHours
) -> None:
    try:
        result = next_allowed(instant, zones, window)
    except ValueError:
        assert _first_allowed_minute_by_scanning(instant, zones, window) is None
        return
    assert result >= instant
    assert not is_quiet(result, zones, window)
    assert result.utcoffset() == timedelta(0)
    if result != instant:
        assert result.second == result.microsecond == 0
        before = result - timedelta(minutes=1)
        if before >= instant:
            assert is_quiet(before, zones, window)


@settings(max_examples=60, deadline=None)
@given(instants, zone_lists, windows)
def test_result_matches_a_minute_by_minute_scan(
    instant: datetime, zones: list[str], window: QuietHours
) -> None:
    try:
        result: datetime | None = next_allowed(instant, zones, window)
    except ValueError:
        result = None
    assert result == _first_allowed_minute_by_scanning(instant, zones, window)


DST_DAYS = [
    utc(2024, 3, 10, 7, 0),  # New York springs forward
    utc(2024, 11, 3, 6, 0),  # New York falls back
    utc(2024, 3, 31, 1, 0),  # Europe springs forward
    utc(2024, 10, 27, 1, 0),  # Europe falls back
    utc(2024, 4, 6, 13, 45),  # Chatham falls back
    utc(2024, 9, 28, 14, 0),  # Chatham springs forward
    utc(2024, 4, 6, 16, 30),  # Adelaide falls back
    utc(2024, 10, 5, 16, 30),  # Adelaide springs forward
]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(DST_DAYS),
    st.integers(-36 * 60, 12 * 60),
    zone_lists,
    windows,
)
def test_around_dst_transitions_matches_a_scan(
    transition: datetime, minutes: int, zones: list[str], window: QuietHours
) -> None:
    instant = transition + timedelta(minutes=minutes, seconds=minutes % 7 * 5)
    try:
        result: datetime | None = next_allowed(instant, zones, window)
    except ValueError:
        result = None
    assert result == _first_allowed_minute_by_scanning(instant, zones, window)
