"""The API's inputs in the limits of `domain/bounds.py`: the same answer on both databases.

An offset or id beyond a 64-bit integer, a NUL in a filter or a year-1 date would otherwise reach
the database, which SQLite shrugs at and PostgreSQL refuses with a 500. These types refuse them
at the door with a 422 that names the parameter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator

from cartback.config import read_since
from cartback.domain.bounds import MAX_BIGINT, MAX_TEXT, text_problem, time_problem
from cartback.errors import InvalidRequest

__all__ = [
    "After",
    "AfterMessage",
    "CartId",
    "Filter",
    "Instant",
    "Limit",
    "Offset",
    "Since",
    "Text",
    "instant",
    "since_at",
]


def _text(value: str) -> str:
    problem = text_problem(value, MAX_TEXT)
    if problem is not None:
        raise ValueError(problem)
    return value


def instant(value: datetime) -> datetime:
    """A time with a UTC offset between 1970 and 2100 (a naive one is left to its route, which
    says how to write the offset)."""
    problem = None if value.tzinfo is None else time_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Text = Annotated[str, AfterValidator(_text)]
Instant = Annotated[datetime, AfterValidator(instant)]
# `since` as the CLI takes it too: a time, a date, or a span back from now (`since_at`).
Since = Annotated[str | None, Query(description="2026-11-01T08:00:00Z, 2026-11-01, or 7d/12h/30m")]


def since_at(text: str | None, now: datetime) -> datetime | None:
    """The instant `since` names, `now` being the server's time, in the CLI's forms
    (`read_since`). A time without an offset is a 400 that says how to write one; anything
    else unreadable, or a time outside the years cartback keeps, a 422 naming `since`."""
    if text is None:
        return None
    try:
        when = read_since(text, now)
    except ValueError as exc:
        raise InvalidRequest(f"since: {exc}") from None
    if when.tzinfo is None:
        raise InvalidRequest("since: give a time zone, e.g. 2026-11-01T00:00:00Z", status=400)
    problem = time_problem(when)
    if problem is not None:
        raise InvalidRequest(f"since: {problem}")
    return when


Filter = Annotated[Text | None, Query()]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=MAX_BIGINT)]
CartId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
# Keyset paging: the id of the last row of the page before (as deep as wanted, at one cost).
After = Annotated[int | None, Query(ge=1, le=MAX_BIGINT)]
AfterMessage = Annotated[Text | None, Query(max_length=40)]
