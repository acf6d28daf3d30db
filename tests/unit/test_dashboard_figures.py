"""The dashboard's figures as an owner reads them: periods on the store's clock, the funnel,
money per day, reasons and timeline entries in plain words, money and times in the store's
locale."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from cartback.api.dashboard import figures
from cartback.api.dashboard.flows import split_steps
from cartback.api.dashboard.formatting import Formatter, locale_for_country, place_for
from cartback.config.settings import StoreConfig

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
TODAY = date(2026, 11, 30)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_preset_period_starts_at_midnight_on_the_stores_clock() -> None:
    chosen = figures.period("30d", None, TODAY, COPENHAGEN)
    assert chosen.first_day == date(2026, 11, 1)
    assert chosen.since == utc("2026-10-31T23:00:00")  # midnight in Copenhagen, in UTC
    week = figures.period("7d", None, TODAY, COPENHAGEN)
    assert week.first_day == date(2026, 11, 24) and week.label == "Last 7 days"


def test_all_time_has_no_start_and_a_chosen_day_wins_over_the_preset() -> None:
    assert figures.period("all", None, TODAY, COPENHAGEN).since is None
    custom = figures.period("7d", date(2026, 6, 1), TODAY, COPENHAGEN)
    assert (custom.key, custom.since) == ("custom", utc("2026-05-31T22:00:00"))  # summer time
    assert figures.period("nonsense", None, TODAY, COPENHAGEN).key == "30d"


def test_the_funnel_gives_each_stage_as_a_share_of_the_one_before() -> None:
    stages = figures.funnel(figures.FunnelCounts(10, 8, 6, 4, 2, 1))
    assert [s.key for s in stages] == [
        "carts",
        "abandoned",
        "eligible",
        "messaged",
        "clicked",
        "recovered",
    ]
    assert [s.count for s in stages] == [10, 8, 6, 4, 2, 1]
    assert [s.rate for s in stages] == [
        None,
        Decimal("0.8"),
        Decimal("0.75"),
        Decimal("0.667"),
        Decimal("0.5"),
        Decimal("0.5"),
    ]
    empty = figures.funnel(figures.FunnelCounts(0, 0, 0, 0, 0, 0))
    assert all(s.rate is None for s in empty), "no share of nothing"


def test_money_per_day_falls_on_the_stores_day_and_adds_up_to_the_totals() -> None:
    revenue = [
        (utc("2026-11-28T23:30:00"), Decimal("100.00")),  # 29 Nov, 00:30 in Copenhagen
        (utc("2026-11-30T10:00:00"), Decimal("50.50")),
    ]
    spend = [
        (utc("2026-11-29T08:00:00"), Decimal("0.30")),
        (utc("2026-11-29T09:00:00"), Decimal("0.60")),
    ]
    days = figures.daily(revenue, spend, COPENHAGEN, date(2026, 11, 27), TODAY)
    assert [d.day for d in days] == [date(2026, 11, 27) + timedelta(days=n) for n in range(4)]
    assert [d.revenue for d in days] == [
        Decimal("0"),
        Decimal("0"),
        Decimal("100.00"),
        Decimal("50.50"),
    ]
    assert days[2].spend == Decimal("0.90")
    assert sum(d.revenue for d in days) == Decimal("150.50")
    assert sum(d.spend for d in days) == Decimal("0.90")


def test_all_time_per_day_starts_at_the_first_figure() -> None:
    days = figures.daily([(utc("2026-11-29T12:00:00"), Decimal("1"))], [], COPENHAGEN, None, TODAY)
    assert [d.day for d in days] == [date(2026, 11, 29), TODAY]
    assert figures.daily([], [], COPENHAGEN, None, TODAY) == [
        figures.DayFigures(TODAY, Decimal("0"), Decimal("0"))
    ]


def test_skips_read_as_reasons_most_frequent_first() -> None:
    rows = figures.skip_rows({"quiet_hours": 2, "no_consent": 5, "some_new_reason": 2})
    assert [(r.label, r.count) for r in rows] == [
        ("No marketing consent", 5),
        ("Quiet hours", 2),
        ("Some new reason", 2),
    ]


def test_timeline_headlines_say_what_happened() -> None:
    assert figures.headline("decision", "abandon", "abandoned", None) == "Cart abandoned"
    assert (
        figures.headline("decision", "skip", "no_consent", None) == "Not sent: no marketing consent"
    )
    assert (
        figures.headline("decision", "defer", "quiet_hours", None) == "Moved to later: quiet hours"
    )
    assert figures.headline("message", "sent", None, "sms") == "SMS message sent"
    assert figures.headline("click", None, None, None) == "Link followed"
    held = figures.headline("decision", "holdout", "holdout", None)
    assert held == "Held out"
    assert figures.headline("order", None, None, None) == "Order placed"


def test_durations_in_words() -> None:
    assert figures.duration_words(timedelta(minutes=30)) == "30 minutes"
    assert figures.duration_words(timedelta(days=1)) == "1 day"
    assert figures.duration_words(timedelta(seconds=90)) == "90 seconds"


def test_the_chart_gets_one_point_per_day_and_the_locale_as_a_language_tag() -> None:
    days = [figures.DayFigures(TODAY, Decimal("404.95"), Decimal("0.30"))]
    data = figures.chart_data(days, ["30. nov."], "USD", "da_DK")
    assert data == {
        "labels": ["30. nov."],
        "revenue": [404.95],
        "spend": [0.3],
        "currency": "USD",
        "locale": "da-DK",
    }


def store(country: str | None, zone: str = "Europe/Copenhagen") -> StoreConfig:
    return StoreConfig(
        id="acme",
        platform="generic",
        name="Acme",
        insecure=True,
        timezone=zone,
        default_country=country,
    )


def test_money_and_times_follow_the_stores_country_and_zone() -> None:
    assert str(locale_for_country("DK")) == "da_DK"
    assert str(locale_for_country("US")) == "en_US"
    assert str(locale_for_country(None)) == "en"
    danish = Formatter([store("DK")], place_for(store("DK")))
    assert danish.money(Decimal("1404.95"), "DKK") == "1.404,95\xa0kr."
    assert danish.when(utc("2026-11-30T10:00:00")) == "30. nov. 2026 11.00"
    american = Formatter(
        [store("US", "America/New_York")], place_for(store("US", "America/New_York"))
    )
    assert american.money(Decimal("1404.95"), "USD") == "$1,404.95"
    assert american.when(utc("2026-11-30T10:00:00")) == "Nov 30, 2026 5:00\u202fAM"
    assert american.money(None, "USD") == "—"
    assert danish.points(Decimal("0.053")) == "+5,3 pts"  # a lift: shares' difference
    assert american.points(Decimal("-0.004")) == "-0.4 pts"
    assert american.points(None) == "—"


def test_a_flow_preview_is_cut_into_steps_with_warnings_apart() -> None:
    printed = [
        "flow f (store acme), entered 30m after the cart's last update",
        "sample cart: Astrid, +4520123456, 798.00 DKK",
        "\nstep 1: send sms",
        "  text: Hej Astrid …",
        "  UCS-2, 80 characters (80 units), 2 segments, cost 0.60 DKK",
        "  warning: this message needs 2 segments; shorten it to fit one",
        "\nstep 2: wait 1d",
    ]
    intro, steps = split_steps("\n".join(printed).splitlines())
    assert intro == printed[:2]
    assert [s.title for s in steps] == ["Step 1: send sms", "Step 2: wait 1d"]
    assert [s.number for s in steps] == [1, 2]  # as the report's rows by step count them
    assert (
        steps[0].text
        == "text: Hej Astrid …\nUCS-2, 80 characters (80 units), 2 segments, cost 0.60 DKK"
    )
    assert steps[0].warnings == ["this message needs 2 segments; shorten it to fit one"]
    assert steps[1].text == "" and steps[1].warnings == []
