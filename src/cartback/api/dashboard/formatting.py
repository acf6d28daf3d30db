"""Money, numbers and times as a store's people read them: its locale and its time zone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time
from babel.languages import get_official_languages
from babel.numbers import format_currency, format_decimal, format_percent

from cartback.config import StoreConfig

FALLBACK_LOCALE = "en"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a store's figures are read: how numbers look there, and the clock on its wall."""

    locale: Locale
    zone: ZoneInfo


@lru_cache(maxsize=64)
def locale_for_country(country: str | None) -> Locale:
    """The locale of the store's country (its first official language), e.g. DK -> da_DK."""
    if country:
        for language in get_official_languages(country, de_facto=True):
            try:
                return Locale.parse(f"{language}_{country}")
            except (UnknownLocaleError, ValueError):
                continue
    return Locale.parse(FALLBACK_LOCALE)


def place_for(store: StoreConfig | None) -> Place:
    if store is None:
        return Place(Locale.parse(FALLBACK_LOCALE), ZoneInfo("UTC"))
    return Place(locale_for_country(store.default_country), ZoneInfo(store.timezone))


def shared_place(stores: Sequence[StoreConfig]) -> Place:
    """For figures over several stores: theirs when they agree, else English and UTC."""
    places = {(str(p.locale), p.zone.key) for p in map(place_for, stores)}
    if len(places) == 1:
        return place_for(stores[0])
    return place_for(None)


class Formatter:
    """The filters the templates use; each takes the store a value belongs to (None: the view's)."""

    def __init__(self, stores: Sequence[StoreConfig], default: Place) -> None:
        self._places = {store.id: place_for(store) for store in stores}
        self.default = default

    def place(self, store_id: str | None = None) -> Place:
        if store_id is None:
            return self.default
        return self._places.get(store_id, self.default)

    def money(
        self, amount: Decimal | None, currency: str | None, store_id: str | None = None
    ) -> str:
        if amount is None:
            return "—"
        locale = self.place(store_id).locale
        if not currency:
            return format_decimal(amount, format="#,##0.00", locale=locale)
        return format_currency(amount, currency, locale=locale)

    def number(self, value: int | Decimal | None, store_id: str | None = None) -> str:
        if value is None:
            return "—"
        return format_decimal(value, locale=self.place(store_id).locale)

    def percent(self, ratio: Decimal | None, store_id: str | None = None) -> str:
        if ratio is None:
            return "—"
        return format_percent(ratio, format="#,##0.#%", locale=self.place(store_id).locale)

    def points(self, ratio: Decimal | None, store_id: str | None = None) -> str:
        """A difference of two shares in percentage points, signed: 0.053 -> "+5.3 pts"."""
        if ratio is None:
            return "—"
        shown = format_decimal(ratio * 100, format="#,##0.#", locale=self.place(store_id).locale)
        return f"{'+' if ratio > 0 else ''}{shown} pts"

    def when(self, at: datetime | None, store_id: str | None = None) -> str:
        """A moment as a date and a time of day on the store's clock."""
        if at is None:
            return "—"
        place = self.place(store_id)
        local = at.astimezone(place.zone)
        day = format_date(local, "medium", locale=place.locale)
        return f"{day} {format_time(local, 'short', locale=place.locale)}"

    def day(self, value: date, store_id: str | None = None) -> str:
        return format_date(value, "medium", locale=self.place(store_id).locale)

    def short_day(self, value: date, store_id: str | None = None) -> str:
        return format_skeleton("MMMd", value, locale=self.place(store_id).locale)

    def iso_local(self, at: datetime | None, store_id: str | None = None) -> str:
        """For <time datetime=...>: the instant with the store's offset."""
        if at is None:
            return ""
        return at.astimezone(self.place(store_id).zone).isoformat(timespec="seconds")
