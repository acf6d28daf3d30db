"""Shaping figures for the pages: periods, the funnel, money per day, reasons in plain words.

Pure functions over plain values: no database, no HTTP. The data module feeds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

PERIODS: Mapping[str, tuple[int | None, str]] = {
    "7d": (7, "Last 7 days"),
    "30d": (30, "Last 30 days"),
    "90d": (90, "Last 90 days"),
    "all": (None, "All time"),
}
DEFAULT_PERIOD = "30d"
CART_STATUSES = ("open", "abandoned", "purchased", "deleted")
MESSAGE_STATUSES = ("queued", "sent", "delivered", "failed", "undelivered", "skipped")
DELIVERY_STATUSES = ("failed", "received", "processed")


@dataclass(frozen=True, slots=True)
class Period:
    key: str  # one of PERIODS, or "custom"
    label: str
    since: datetime | None  # aware UTC; None: from the beginning
    first_day: date | None  # the same start as a day on the view's clock


def period(key: str | None, since_day: date | None, today: date, zone: ZoneInfo) -> Period:
    """The report's `since` for a preset ("30d": today and the 29 days before it, from local
    midnight) or for a day chosen by hand."""
    if since_day is not None:
        return Period(
            "custom", f"Since {since_day.isoformat()}", midnight(since_day, zone), since_day
        )
    chosen = key if key is not None and key in PERIODS else DEFAULT_PERIOD
    days, label = PERIODS[chosen]
    if days is None:
        return Period(chosen, label, None, None)
    first = today - timedelta(days=days - 1)
    return Period(chosen, label, midnight(first, zone), first)


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The start of `day` on the clock of `zone`, in UTC."""
    return datetime.combine(day, time(0), zone).astimezone(UTC)


# the funnel -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FunnelCounts:
    carts: int  # carts first seen in the period
    abandoned: int
    eligible: int  # carts the checks let through: consent, contact, not bought, no cooldown
    messaged: int  # carts with at least one message that went out
    clicked: int  # carts whose link was followed
    recovered: int  # orders attributed to a message


@dataclass(frozen=True, slots=True)
class FunnelStage:
    key: str
    label: str
    count: int
    rate: Decimal | None  # of the stage before; None for the first, or after an empty stage


_STAGES = (
    ("carts", "Carts"),
    ("abandoned", "Abandoned"),
    ("eligible", "Eligible"),
    ("messaged", "Messaged"),
    ("clicked", "Clicked"),
    ("recovered", "Recovered"),
)


def funnel(counts: FunnelCounts) -> list[FunnelStage]:
    stages: list[FunnelStage] = []
    previous: int | None = None
    for key, label in _STAGES:
        count: int = getattr(counts, key)
        rate = ratio(count, previous) if previous is not None else None
        stages.append(FunnelStage(key, label, count, rate))
        previous = count
    return stages


def ratio(part: int, whole: int | None) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


# money per day ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: date
    revenue: Decimal
    spend: Decimal


def daily(
    revenue: Iterable[tuple[datetime, Decimal]],
    spend: Iterable[tuple[datetime, Decimal]],
    zone: ZoneInfo,
    first_day: date | None,
    last_day: date,
) -> list[DayFigures]:
    """Recovered revenue and spend per day on the view's clock, every day from `first_day`
    (None: the first day with figures) to `last_day`, days without figures as zeros."""
    revenue_by_day = _by_day(revenue, zone)
    spend_by_day = _by_day(spend, zone)
    seen = revenue_by_day.keys() | spend_by_day.keys()
    start = first_day or min(seen, default=last_day)
    end = max(last_day, max(seen, default=last_day))
    zero = Decimal("0")
    return [
        DayFigures(day, revenue_by_day.get(day, zero), spend_by_day.get(day, zero))
        for day in _days(start, end)
    ]


def _by_day(rows: Iterable[tuple[datetime, Decimal]], zone: ZoneInfo) -> dict[date, Decimal]:
    totals: dict[date, Decimal] = {}
    for at, amount in rows:
        day = at.astimezone(zone).date()
        totals[day] = totals.get(day, Decimal("0")) + amount
    return totals


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def chart_data(
    days: list[DayFigures], labels: list[str], currency: str | None, locale: str
) -> dict[str, object]:
    """The chart's series as JSON, one point per day with its label on the view's clock, and
    the currency and locale (BCP 47) its axis and legend format money in.

    Floats only here, for drawing; every figure shown as text stays a Decimal.
    """
    return {
        "labels": labels,
        "revenue": [float(d.revenue) for d in days],
        "spend": [float(d.spend) for d in days],
        "currency": currency,
        "locale": locale.replace("_", "-"),
    }


# reasons and the timeline in plain words --------------------------------------------------

REASONS: Mapping[str, str] = {
    "ok": "Sent",
    "abandoned": "Abandoned",
    "purchased": "Already bought",
    "deleted": "Cart deleted by the shop",
    "no_contact": "No phone or email",
    "no_phone": "No phone number",
    "invalid_phone": "Phone number not usable",
    "no_email": "No email address",
    "no_consent": "No marketing consent",
    "suppressed": "Unsubscribed (STOP or bounce)",
    "quiet_hours": "Quiet hours",
    "cooldown": "Cooldown after another message",
    "channel_not_configured": "Channel not configured",
    "no_recovery_url": "No link back to the basket",
    "unsafe_link": "Unsafe link back to the basket not kept",
    "flow_removed": "Flow removed from the config",
    "newer_cart": "A newer cart of the same person",
    "recent_purchase": "Bought something recently",
    "frequency": "SMS limit per abandonment reached",
    "sms_deadline": "Too late for an SMS",
    "no_matching_flow": "No flow takes this cart",
    "condition": "Step condition did not hold",
    "flow_ended": "Flow ended by a step",
    "rcs_fallback": "Sent as SMS instead of RCS",
    "gateway_retry": "Gateway did not answer; retrying",
    "gateway_failed": "Gateway refused the message",
    "gateway_cooldown": "Gateway's own cooldown",
    "holdout": "Held out, to measure what the flow adds",
}


def reason_label(reason: str | None) -> str:
    if not reason:
        return ""
    return REASONS.get(reason, reason.replace("_", " ").capitalize())


@dataclass(frozen=True, slots=True)
class SkipRow:
    reason: str
    label: str
    count: int


def skip_rows(skipped: Mapping[str, int]) -> list[SkipRow]:
    """Skips by reason, the most frequent first."""
    rows = [SkipRow(reason, reason_label(reason), count) for reason, count in skipped.items()]
    return sorted(rows, key=lambda row: (-row.count, row.label))


_DECISIONS: Mapping[str, str] = {
    "abandon": "Cart abandoned",
    "skip": "Not sent",
    "defer": "Moved to later",
    "cancel": "Recovery stopped",
    "done": "Flow finished",
    "end": "Flow ended",
    "fallback": "Channel changed",
    "branch": "Wording chosen",
    "send": "Checks passed",
    "holdout": "Held out",
}


def headline(kind: str, action: str | None, reason: str | None, channel: str | None) -> str:
    """A timeline entry's first words: what happened, before the engine's own sentence."""
    if kind == "click":
        return "Link fetched by a machine" if action == "bot" else "Link followed"
    if kind == "open":
        return "Pixel fetched by a machine" if action == "bot" else "Email opened"
    if kind == "order":
        return "Order placed"
    if kind == "message":
        return f"{channel_label(channel)} message {action or ''}".strip()
    what = _DECISIONS.get(action or "", (action or "Decision").capitalize())
    if action in ("skip", "defer", "cancel") and reason:
        return f"{what}: {reason_label(reason).lower()}"
    return what


def channel_label(channel: str | None) -> str:
    return {"sms": "SMS", "rcs": "RCS", "email": "Email"}.get(channel or "", channel or "")


def duration_words(delta: timedelta) -> str:
    """`timedelta(minutes=30)` -> "30 minutes"; the largest unit that divides it."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
