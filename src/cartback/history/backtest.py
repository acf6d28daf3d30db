"""`cartback backtest`: what the configured flows would have done on a shop's past events.

The events are replayed in the order they happened through the live engine (`replay.Replay`),
from the first event's time to `until` (default: the last event plus the longest flow), and the
summary is read back from the in-memory store (`summary.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cartback.config import Settings
from cartback.history.events import HistoryEvent, in_order, within
from cartback.history.replay import Replay, horizon
from cartback.history.summary import UPPER_BOUND, StoreSummary, summarise

Progress = Callable[[Sequence[HistoryEvent]], Iterable[HistoryEvent]]


@dataclass
class Backtest:
    replay: Replay
    events: int
    first: datetime | None
    until: datetime | None
    deliveries: Counter[str]
    failures: list[str]
    stores: list[StoreSummary]

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "from": self.first.isoformat() if self.first else None,
            "until": self.until.isoformat() if self.until else None,
            "deliveries": dict(self.deliveries),
            "failed_examples": self.failures,
            "note": UPPER_BOUND,
            "stores": [store.as_json() for store in self.stores],
        }


def run_backtest(
    settings: Settings,
    events: Iterable[HistoryEvent],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Progress = lambda events: events,
) -> Backtest:
    chosen = in_order(within(events, since, until))
    first = chosen[0].at if chosen else since
    replay = Replay(settings, first or _epoch())
    for event in progress(chosen):
        replay.feed(event)
    end = until or (chosen[-1].at + horizon(settings) if chosen else None)
    if end is not None:
        replay.finish(end)
    store_ids = [store.id for store in settings.stores]
    currencies = {store.id: store.currency for store in settings.stores}
    stores = summarise(replay.store, store_ids, currencies, settings.domain_flows())
    return Backtest(replay, len(chosen), first, end, replay.deliveries, replay.failures, stores)


def _epoch() -> datetime:
    return datetime.fromisoformat("2000-01-01T00:00:00+00:00")


def text_lines(result: Backtest) -> list[str]:
    """The summary for a person: one block per store, one per flow within it."""
    span = f"{_when(result.first)} to {_when(result.until)}"
    deliveries = ", ".join(f"{n} {what}" for what, n in sorted(result.deliveries.items()))
    lines = [f"backtest of {result.events} events, {span} ({deliveries or 'none'})"]
    lines += [f"  refused by the parser: {failure}" for failure in result.failures]
    for store in result.stores:
        lines.append(
            f"store {store.store} ({store.currency or 'no currency'}): "
            f"{store.carts} carts, {store.abandoned} abandoned"
        )
        for flow in store.flows:
            lines += _flow_lines(flow.as_json(), store.currency)
    lines.append(f"note: {UPPER_BOUND}")
    return lines


def _flow_lines(flow: dict[str, Any], currency: str | None) -> list[str]:
    money = currency or ""
    lines = [
        f"  flow {flow['flow']}: {flow['carts']} carts, {flow['abandoned']} abandoned, "
        f"holdout {flow['holdout']}",
        f"    messages {flow['messages']}: {_counts(flow['messages_by_step'])}",
        f"    sms segments {flow['sms_segments']}, spend {flow['spend']} {money}".rstrip(),
    ]
    for what in ("skipped", "cancelled", "deferred"):
        if flow[what]:
            lines.append(f"    {what}: {_counts(flow[what])}")
    lines.append(
        f"    recovered (upper bound): {flow['orders_recovered']} orders, "
        f"{flow['recovered_revenue_upper_bound']} {money}".rstrip()
    )
    return lines


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{what} {n}" for what, n in counts.items()) or "none"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"
