"""An events file by its kind: JSON Lines of generic webhooks, or a Shopify CSV export."""

from __future__ import annotations

from pathlib import Path

from cartback.config import Settings, StoreConfig
from cartback.history.events import HistoryEvent, HistoryFileError, read_jsonl
from cartback.history.shopify_csv import is_orders_export, read_checkouts_csv, read_orders_csv

JSON_LINES = (".jsonl", ".ndjson", ".json")


def read_events(path: Path, settings: Settings, store: str | None = None) -> list[HistoryEvent]:
    """The events in one file; `HistoryFileError` (or `CsvFileError`) names its problems.
    A CSV export is one store's: `store`, else the config's only (Shopify) store."""
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix in JSON_LINES:
        return read_jsonl(text, [s.id for s in settings.stores], path.name)
    if suffix != ".csv":
        raise HistoryFileError([f"{path.name}: not a .jsonl or .csv file"])
    owner = _csv_store(settings, store, path.name)
    read = read_orders_csv if is_orders_export(text) else read_checkouts_csv
    return read(text, owner.id, owner.default_country, path.name)


def _csv_store(settings: Settings, chosen: str | None, name: str) -> StoreConfig:
    if chosen is not None:
        found = [s for s in settings.stores if s.id == chosen]
        if not found:
            raise HistoryFileError([f"{name}: the store {chosen!r} is not configured"])
        return found[0]
    shops = [s for s in settings.stores if s.platform == "shopify"] or list(settings.stores)
    if len(shops) != 1:
        raise HistoryFileError([f"{name}: name the store the export is from with --store"])
    return shops[0]
