"""Which message earned an order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cartback.domain.attribution import Basis, Touch, attribute

ORDER_AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CLICK, SEND = timedelta(days=5), timedelta(hours=24)


def at(hours_before: float) -> datetime:
    return ORDER_AT - timedelta(hours=hours_before)


def test_the_last_click_within_the_window_wins() -> None:
    touches = [Touch("a", at(100), clicked_at=at(90)), Touch("b", at(30), clicked_at=at(2))]
    won = attribute(ORDER_AT, touches, CLICK, SEND)
    assert won is not None and (won.message_id, won.basis) == ("b", Basis.CLICK)


def test_a_click_beats_a_later_send() -> None:
    touches = [Touch("clicked", at(48), clicked_at=at(40)), Touch("sent", at(1))]
    won = attribute(ORDER_AT, touches, CLICK, SEND)
    assert won is not None and (won.message_id, won.basis) == ("clicked", Basis.CLICK)


def test_a_send_within_the_send_window_counts_without_a_click() -> None:
    won = attribute(ORDER_AT, [Touch("m", at(23))], CLICK, SEND)
    assert won is not None and won.basis == Basis.SEND


def test_outside_both_windows_nothing_is_attributed() -> None:
    assert attribute(ORDER_AT, [Touch("m", at(25))], CLICK, SEND) is None
    assert attribute(ORDER_AT, [Touch("m", at(200), clicked_at=at(121))], CLICK, SEND) is None


def test_a_click_after_the_order_does_not_count() -> None:
    won = attribute(
        ORDER_AT, [Touch("m", at(30), clicked_at=ORDER_AT + timedelta(minutes=1))], CLICK, SEND
    )
    assert won is None
