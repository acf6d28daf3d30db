"""Running stored deliveries through the current code again (after a parser fix)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cartback.engine.ingest import IngestResult, Outcome
from cartback.integrations.registry import parser_for
from cartback.runtime import Runtime
from cartback.store import deliveries


@dataclass(frozen=True, slots=True)
class Replayed:
    delivery_id: int
    outcome: str  # processed | failed | skipped
    detail: str


def failed_ids(runtime: Runtime, limit: int = 10_000) -> list[int]:
    with runtime.engine.connect() as conn:
        rows = deliveries.listing(conn, status=deliveries.FAILED, limit=limit)
    return sorted(row.id for row in rows)


def replay(runtime: Runtime, ids: Iterable[int]) -> list[Replayed]:
    return [_one(runtime, delivery_id) for delivery_id in ids]


def _one(runtime: Runtime, delivery_id: int) -> Replayed:
    with runtime.engine.connect() as conn:
        row = deliveries.get(conn, delivery_id)
    if row is None:
        return Replayed(delivery_id, "skipped", "no such delivery")
    if row.status == deliveries.PROCESSED:
        # Applying it twice would count its updates twice: a replay is for what failed.
        return Replayed(delivery_id, "skipped", "already processed")
    store = runtime.settings.store(row.store_id)
    if store is None:
        return Replayed(delivery_id, "skipped", f"store {row.store_id!r} is not configured")
    parse = parser_for(store, row.platform, row.topic, row.headers or {})
    return _report(runtime.ingest.process(row.id, row.body, parse, row.received_at))


def _report(result: IngestResult) -> Replayed:
    if result.outcome == Outcome.FAILED:
        return Replayed(result.delivery_id, "failed", result.error or "")
    return Replayed(result.delivery_id, "processed", f"{result.events} events applied")
