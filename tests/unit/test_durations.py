"""Durations in the config's notation and in sentences."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cartback.domain.durations import rounded, span


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(minutes=30), "30m"),
        (timedelta(hours=2), "2h"),
        (timedelta(days=3), "3d"),
        (timedelta(hours=24), "1d"),
        (timedelta(seconds=90), "90s"),
        (timedelta(minutes=90), "90m"),
        (timedelta(0), "0s"),
    ],
)
def test_span_uses_the_largest_unit_that_divides_it(delta: timedelta, text: str) -> None:
    assert span(delta) == text


@pytest.mark.parametrize(
    ("delta", "short", "words"),
    [
        (timedelta(hours=24), "24h", "24 hours"),
        (timedelta(hours=36), "36h", "36 hours"),
        (timedelta(hours=48), "2d", "2 days"),
        (timedelta(days=7), "7d", "7 days"),
        (timedelta(minutes=90), "1.5h", "1.5 hours"),
    ],
)
def test_rounded_says_hours_below_two_days_and_days_from_there(
    delta: timedelta, short: str, words: str
) -> None:
    assert rounded(delta) == short
    assert rounded(delta, words=True) == words
