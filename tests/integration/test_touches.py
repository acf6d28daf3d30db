"""Touches from other systems on SQLite and PostgreSQL: import, dedupe, last touch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from cartback.csv_files import read_touches_csv
from cartback.domain.records import Touch
from cartback.store.sql import SqlStore

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PHONE = "+4520123456"
EMAIL = "anna@example.com"

CSV = """phone,email,channel,sent_at,source
20 12 34 56,,sms,2026-11-28T09:30:00+01:00,klaviyo-black-friday
,Anna@Example.COM,email,2026-11-27T18:00:00Z,newsletter
+45 20 12 34 56,anna@example.com,email,2026-11-28T07:00:00+00:00,newsletter
"""


def record(db: Engine, touches: list[Touch]) -> int:
    with SqlStore(db).transaction() as tx:
        return tx.touches.add_many(touches, NOW)


def last(db: Engine, address: str, channel: str | None, since: datetime) -> datetime | None:
    with SqlStore(db).reading() as tx:
        return tx.touches.last(address, channel, since)


def test_importing_a_file_records_each_touch(db: Engine) -> None:
    touches = read_touches_csv(CSV, default_country="DK")

    assert record(db, touches) == 3
    assert last(db, PHONE, "sms", NOW - timedelta(days=7)) == datetime(
        2026, 11, 28, 8, 30, tzinfo=UTC
    )


def test_importing_the_same_file_twice_adds_nothing(db: Engine) -> None:
    record(db, read_touches_csv(CSV, default_country="DK"))

    assert record(db, read_touches_csv(CSV, default_country="DK")) == 0


def test_the_same_instant_written_in_another_zone_is_a_duplicate(db: Engine) -> None:
    utc = Touch(PHONE, "sms", datetime(2026, 11, 28, 8, 30, tzinfo=UTC), "klaviyo")
    cet = Touch(PHONE, "sms", utc.sent_at.astimezone(timezone(timedelta(hours=1))), "klaviyo")

    assert record(db, [utc]) == 1
    assert record(db, [cet, cet]) == 0


def test_the_same_send_from_two_sources_is_two_touches(db: Engine) -> None:
    sent = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)

    assert record(db, [Touch(EMAIL, "email", sent, "a"), Touch(EMAIL, "email", sent, "b")]) == 2


def test_last_touch_is_per_channel_or_across_channels(db: Engine) -> None:
    record(db, read_touches_csv(CSV, default_country="DK"))
    week_ago = NOW - timedelta(days=7)

    assert last(db, EMAIL, "email", week_ago) == datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    assert last(db, EMAIL, "sms", week_ago) is None
    assert last(db, PHONE, None, week_ago) == datetime(2026, 11, 28, 8, 30, tzinfo=UTC)
    assert last(db, "+4599999999", None, week_ago) is None


def test_last_touch_ignores_touches_before_since(db: Engine) -> None:
    record(db, read_touches_csv(CSV, default_country="DK"))

    assert last(db, EMAIL, "email", datetime(2026, 11, 28, 7, 0, tzinfo=UTC)) is not None
    assert last(db, EMAIL, "email", datetime(2026, 11, 28, 7, 1, tzinfo=UTC)) is None


def test_a_large_import_is_counted_right(db: Engine) -> None:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    touches = [Touch(EMAIL, "email", base + timedelta(minutes=i), "bulk") for i in range(1200)]

    assert record(db, touches) == 1200
    assert record(db, touches) == 0


# --- reading the CSV --------------------------------------------------------------------------


def test_csv_addresses_are_normalised() -> None:
    touches = read_touches_csv(CSV, default_country="DK")

    assert [(t.address, t.channel, t.source) for t in touches] == [
        (PHONE, "sms", "klaviyo-black-friday"),
        (EMAIL, "email", "newsletter"),
        (EMAIL, "email", "newsletter"),
    ]
    assert touches[0].sent_at == datetime(2026, 11, 28, 8, 30, tzinfo=UTC)
    assert touches[0].sent_at.tzinfo is UTC


def test_a_touch_must_be_aware_and_on_a_known_channel() -> None:
    with pytest.raises(ValueError, match="aware"):
        Touch(PHONE, "sms", datetime(2026, 11, 28, 7, 0), "x")
    with pytest.raises(ValueError, match="channel"):
        Touch(PHONE, "push", NOW, "x")
