"""Running stored deliveries through the current code again (after a parser fix)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cartback.domain.records import DeliveryStatus
from cartback.engine.ingest import IngestResult, Outcome
from cartback.integrations.registry import parser_for
from cartback.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Replayed:
    delivery_id: int
    outcome: str  # processed | failed | skipped
    detail: str


def failed_ids(runtime: Runtime, limit: int = 10_000) -> list[int]:
    with runtime.store.reading() as tx:
        failed = tx.deliveries.listing(status=DeliveryStatus.FAILED, store_id=None, limit=limit)
    return sorted(delivery.id for delivery in failed)


def replay(runtime: Runtime, ids: Iterable[int]) -> list[Replayed]:
    return [_one(runtime, delivery_id) for delivery_id in ids]


def _one(runtime: Runtime, delivery_id: int) -> Replayed:
    with runtime.store.reading() as tx:
        stored = tx.deliveries.get(delivery_id)
    if stored is None:
        return Replayed(delivery_id, "skipped", "no such delivery")
    if stored.status == DeliveryStatus.PROCESSED:
        # Applying it twice would count its updates twice: a replay is for what failed.
        return Replayed(delivery_id, "skipped", "already processed")
    store = runtime.settings.store(stored.store_id)
    if store is None:
        return Replayed(delivery_id, "skipped", f"store {stored.store_id!r} is not configured")
    parse = parser_for(store, stored.platform, stored.topic, stored.headers)
    try:
        return _report(runtime.ingest.apply(stored.id, parse))
    except Exception as exc:  # marked failed with the error; the other replays go on
        return Replayed(delivery_id, "failed", f"{type(exc).__name__}: {exc}")


def _report(result: IngestResult) -> Replayed:
    if result.outcome == Outcome.FAILED:
        return Replayed(result.delivery_id, "failed", result.error or "")
    return Replayed(result.delivery_id, "processed", f"{result.events} events applied")
