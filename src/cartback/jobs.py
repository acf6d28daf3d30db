"""The worker's periodic jobs: replies to fetch, experiment winners to call, abandonment
alerts, retention's purge, Magento stores to poll, the statistics of tables that grew fast.
Each runs at its own pace between the due steps (see `engine/worker.py`)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from cartback.clock import Clock
from cartback.config import Settings, StoreConfig
from cartback.domain.events import Channel
from cartback.engine.alert_notify import AlertNotifier
from cartback.engine.diagnostics import AlertWatch
from cartback.engine.feedback import Feedback
from cartback.engine.ingest import IngestService
from cartback.engine.poller import MagentoPoller
from cartback.engine.retention import Retention, retention_job
from cartback.engine.winners import EVERY as WINNERS_EVERY
from cartback.engine.winners import WinnerCaller
from cartback.engine.worker import Periodic, inbound_job
from cartback.integrations.magento_client import MagentoClient
from cartback.store.base import Store

if TYPE_CHECKING:
    from cartback.gateways import Gateways

log = logging.getLogger("cartback.worker")

STATISTICS_EVERY = timedelta(seconds=10)


def worker_jobs(
    settings: Settings,
    gateways: Gateways,
    feedback: Feedback,
    store: Store,
    clock: Clock,
    ingest: IngestService,
) -> list[Periodic]:
    """What the worker does besides due steps, each at its own pace."""
    sms = settings.channels.sms
    every = sms.inbound_poll_every if sms is not None else timedelta(seconds=30)
    jobs = [inbound_job(source, feedback, every) for source in gateways.inbound]
    caller = WinnerCaller(store, clock, settings.domain_flows(), settings.attribution.click_window)
    if caller.flows:
        jobs.append(Periodic("experiments:winners", WINNERS_EVERY, caller.run))
    jobs.append(_alert_job(settings, gateways, store, clock))
    if settings.retention.any:
        jobs.append(retention_job(store, clock, Retention(**settings.retention.model_dump())))
    if any(store.platform == "magento" for store in settings.stores):
        poller = MagentoPoller(store, clock, ingest, settings.stores, _magento_client)
        # The poller keeps each store's own pace; the job only gives it a turn every pass.
        jobs.append(Periodic("magento:poll", timedelta(0), poller.poll_due))
    if store.kind == "postgresql":
        jobs.append(statistics_job(store))
    return jobs


def statistics_job(store: Store) -> Periodic:
    """Every `STATISTICS_EVERY`: ANALYZE what grew past its statistics (`Upkeep.analyze_grown`),
    so that a new database sending hundreds of messages a second is planned from its size, not
    from the empty tables it started with, long before autovacuum's turn. One read of the
    catalogue when nothing grew."""

    def run() -> int:
        with store.transaction() as tx:
            analyzed = tx.upkeep.analyze_grown()
        if analyzed:
            log.info("planner statistics renewed", extra={"tables": ", ".join(analyzed)})
        return len(analyzed)

    return Periodic("statistics", STATISTICS_EVERY, run)


def _alert_job(settings: Settings, gateways: Gateways, store: Store, clock: Clock) -> Periodic:
    rules = settings.alerts
    notify = AlertNotifier(rules.webhook_url, rules.email, gateways.by_channel.get(Channel.EMAIL))
    stores = [(s.id, s.timezone) for s in settings.stores]
    watch = AlertWatch(store, clock, stores, rules, notify)
    return Periodic("diagnostics", rules.check_every, watch.run)


def _magento_client(store: StoreConfig) -> MagentoClient:
    return MagentoClient(store.base_url or "", store.access_token or "")
