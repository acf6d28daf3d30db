"""An events file by its kind: JSON Lines of generic webhooks, or a Shopify CSV export."""

from __future__ import annotations

from pathlib import Path

from cartback.config import Settings
from cartback.history.events import HistoryEvent, HistoryFileError, read_jsonl


def read_events(path: Path, settings: Settings) -> list[HistoryEvent]:
    """The events in one file; `HistoryFileError` names the file's problems."""
    store_ids = [store.id for store in settings.stores]
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        return read_jsonl(text, store_ids, path.name)
    raise HistoryFileError([f"{path.name}: not a .jsonl or .csv file"])
