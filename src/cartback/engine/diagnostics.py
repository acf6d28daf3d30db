"""Abandonment diagnostics: where in the checkout carts are left, now against the store's usual.

For a window (by default the last 24 hours) each checkout stage gets its abandoned carts and its
share of them, against the same hours of each of the previous `baseline_days` days (a window of
more than a day: the `baseline_days` before it). A stage whose share rose by more than
`threshold` standard errors (a two-proportion test), over at least `min_carts` abandoned carts,
raises an alert: recorded once per store, stage and day, logged as a warning, and sent to the
configured webhook or email address. Sources (`source_name`, `landing_site`,
`referring_site`) are counted beside, where the platform tells them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cartback.clock import Clock
from cartback.config.alerts import AlertsConfig
from cartback.domain.checkout import STAGES, UNKNOWN, AbandonedCart, Alert, ShareTest
from cartback.store.base import Store

log = logging.getLogger("cartback.diagnostics")
DAY = timedelta(days=1)
TOP_SOURCES = 10


@dataclass(frozen=True, slots=True)
class StageFigures:
    stage: str
    carts: int
    share: float
    baseline_carts: int
    baseline_share: float
    z: float
    alert: bool


@dataclass
class Diagnosis:
    store_id: str
    since: datetime
    until: datetime
    carts: int  # abandoned in the window
    baseline_carts: int  # abandoned in the baseline's windows
    stages: list[StageFigures]
    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)

    @property
    def raised(self) -> list[StageFigures]:
        return [stage for stage in self.stages if stage.alert]


def diagnose(
    store: Store, store_id: str, since: datetime, until: datetime, rules: AlertsConfig
) -> Diagnosis:
    start = since - rules.baseline_days * DAY
    with store.reading() as tx:
        rows = tx.diagnostics.abandoned(store_id, start, until)
        alerts = tx.diagnostics.alerts(store_id, since)
    now = [cart for cart in rows if cart.abandoned_at >= since]
    before = [cart for cart in rows if _in_baseline(cart.abandoned_at, since, until)]
    counts_now, counts_before = _by_stage(now), _by_stage(before)
    stages = []
    for stage in [*STAGES, UNKNOWN]:
        test = ShareTest(counts_now[stage], len(now), counts_before[stage], len(before))
        if not test.now and not test.before:
            continue
        alert = stage != UNKNOWN and test.rose(rules.threshold, rules.min_carts)
        stages.append(
            StageFigures(
                stage, test.now, test.share, test.before, test.baseline, round(test.z, 2), alert
            )
        )
    return Diagnosis(store_id, since, until, len(now), len(before), stages, _sources(now), alerts)


def _in_baseline(moment: datetime, since: datetime, until: datetime) -> bool:
    """Before the window, and (for a window of a day or less) at the same hours of a day."""
    if moment >= since:
        return False
    span = until - since
    return span >= DAY or (moment - since) % DAY < span


def _by_stage(carts: Iterable[AbandonedCart]) -> Counter[str]:
    return Counter(cart.stage or UNKNOWN for cart in carts)


def _sources(carts: list[AbandonedCart]) -> dict[str, dict[str, int]]:
    found = {}
    for name in ("source_name", "landing_site", "referring_site"):
        seen = Counter(value for cart in carts if (value := getattr(cart, name)))
        if seen:
            found[name] = dict(seen.most_common(TOP_SOURCES))
    return found


Notify = Callable[[Alert], None]


class AlertWatch:
    """The worker's periodic look at every store's last window; new alerts are told once."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        stores: list[tuple[str, str]],  # (store id, time zone)
        rules: AlertsConfig,
        notify: Notify,
    ) -> None:
        self.store = store
        self.clock = clock
        self.stores = stores
        self.rules = rules
        self.notify = notify

    def run(self) -> int:
        """Check every store; how many alerts were new."""
        raised = 0
        for store_id, zone in self.stores:
            for alert in self.check(store_id, zone):
                raised += 1
                log.warning(
                    "checkout stage alert",
                    extra={"store": store_id, "stage": alert.stage, "detail": alert.detail},
                )
                self.notify(alert)
        return raised

    def check(self, store_id: str, zone: str) -> list[Alert]:
        now = self.clock.now()
        found = diagnose(self.store, store_id, now - self.rules.window, now, self.rules)
        day = now.astimezone(ZoneInfo(zone)).date().isoformat()
        new = []
        for stage in found.raised:
            alert = Alert(
                store_id=store_id,
                stage=stage.stage,
                day=day,
                raised_at=now,
                carts=stage.carts,
                total=found.carts,
                share=stage.share,
                baseline=stage.baseline_share,
                z=stage.z,
                detail=_detail(stage, found.carts),
            )
            with self.store.transaction() as tx:
                if tx.diagnostics.add_alert(alert):
                    new.append(alert)
        return new


def _detail(stage: StageFigures, total: int) -> str:
    return (
        f"{stage.carts} of {total} abandoned carts stopped at {stage.stage.replace('_', ' ')} "
        f"({stage.share:.0%}), against {stage.baseline_share:.0%} usually (z = {stage.z:.1f})."
    )
