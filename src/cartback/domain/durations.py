"""Durations as people read them: the config's own notation, and a rounded form for sentences."""

from __future__ import annotations

from datetime import timedelta

_UNITS = (("d", 86400), ("h", 3600), ("m", 60))
_TWO_DAYS = 48.0


def span(delta: timedelta) -> str:
    """The config's notation, in the largest unit that divides it: `30m`, `2h`, `3d`, `90s`."""
    seconds = int(delta.total_seconds())
    for unit, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def rounded(delta: timedelta, *, words: bool = False) -> str:
    """Hours below two days, days from there on: `24h`, `2d`, `1.5h`; `words`: `24 hours`."""
    hours = delta.total_seconds() / 3600
    if hours < _TWO_DAYS:
        return f"{hours:g} hours" if words else f"{hours:g}h"
    return f"{hours / 24:g} days" if words else f"{hours / 24:g}d"
