"""Wiring: from validated settings to a database engine, an ingest service and a scheduler."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr

import httpx
from sqlalchemy import Engine

from cartback.channels.base import Gateway
from cartback.channels.unsubscribe import key_from
from cartback.clock import Clock, SystemClock
from cartback.config import Settings, StoreConfig
from cartback.domain.events import Channel
from cartback.domain.quiet_hours import QuietHours
from cartback.engine.apply import Windows
from cartback.engine.compose import Composer
from cartback.engine.discounting import ShopAccess
from cartback.engine.facts import PolicySettings
from cartback.engine.feedback import Feedback
from cartback.engine.ingest import IngestService
from cartback.engine.poller import MagentoPoller
from cartback.engine.scheduler import Scheduler, SchedulerSettings
from cartback.engine.sender import Sender, SenderSettings, StoreInfo
from cartback.engine.worker import Periodic, Worker, inbound_job
from cartback.gateways import Gateways, build_gateways, channel_setups
from cartback.integrations.magento_client import MagentoClient
from cartback.store import migrate
from cartback.store.db import connect

log = logging.getLogger("cartback")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    clock: Clock
    ingest: IngestService
    scheduler: Scheduler
    feedback: Feedback
    gateways: Gateways
    worker: Worker


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    gateways: Mapping[Channel, Gateway] | None = None,
    echo_outbox: bool = False,
    engine: Engine | None = None,
    http_transport: httpx.BaseTransport | None = None,
) -> Runtime:
    clock = clock or SystemClock()
    engine = engine or connect(settings.database_url)
    flows = {f.id: f for f in settings.domain_flows()}
    built = build_gateways(settings, clock, echo=echo_outbox, transport=http_transport)
    if gateways is not None:
        built.by_channel = dict(gateways)
    windows = Windows(settings.attribution.click_window, settings.attribution.send_window)
    ingest = IngestService(engine, clock, settings.flows_for_store, windows)
    sender = Sender(
        engine,
        clock,
        _store_info(settings),
        channel_setups(settings, built.by_channel),
        _sender_settings(settings),
        _composer(settings),
    )
    scheduling = SchedulerSettings(settings.worker.batch_size, settings.worker.lease)
    scheduler = Scheduler(engine, clock, flows.get, sender, scheduling, settings.flows_for_store)
    feedback = Feedback(engine, clock)
    worker = Worker(clock, scheduler, _jobs(settings, built, feedback, engine, clock, ingest))
    return Runtime(settings, engine, clock, ingest, scheduler, feedback, built, worker)


def _jobs(
    settings: Settings,
    gateways: Gateways,
    feedback: Feedback,
    engine: Engine,
    clock: Clock,
    ingest: IngestService,
) -> list[Periodic]:
    sms = settings.channels.sms
    every = sms.inbound_poll_every if sms is not None else timedelta(seconds=30)
    jobs = [inbound_job(source, feedback, every) for source in gateways.inbound]
    if any(store.platform == "magento" for store in settings.stores):
        poller = MagentoPoller(engine, clock, ingest, settings.stores, _magento_client)
        # The poller keeps each store's own pace; the job only gives it a turn every pass.
        jobs.append(Periodic("magento:poll", timedelta(0), poller.poll_due))
    return jobs


def _magento_client(store: StoreConfig) -> MagentoClient:
    return MagentoClient(store.base_url or "", store.access_token or "")


def _mailto(address: str | None) -> str | None:
    """The bare address of `Name <address>`, for a mailto: link."""
    return (parseaddr(address)[1] or None) if address else None


def _composer(settings: Settings) -> Composer:
    sms, email = settings.channels.sms, settings.channels.email
    return Composer(
        public_url=settings.public_url,
        unsubscribe_key=key_from(settings.api_token),
        transliterate=bool(sms and sms.transliterate),
        unsubscribe_mailto=_mailto(email.unsubscribe_mailto or email.from_address)
        if email
        else None,
    )


def prepare_database(runtime: Runtime, *, auto_migrate: bool) -> None:
    """SQLite migrates itself at startup; PostgreSQL must be migrated with `cartback migrate`."""
    if runtime.engine.dialect.name == "sqlite" or auto_migrate:
        migrate.upgrade(runtime.engine)
    elif not migrate.is_current(runtime.engine):
        raise RuntimeError(
            "the database schema is not current; run `cartback migrate --config FILE` first"
        )


def _sender_settings(settings: Settings) -> SenderSettings:
    policy = settings.policy
    window = policy.quiet_hours
    quiet = QuietHours(window.start, window.end) if window is not None else None
    rules = PolicySettings(
        cooldown=policy.cooldown,
        cooldowns=dict(policy.cooldowns),
        quiet_hours=quiet,
        recent_purchase=policy.recent_purchase,
        max_sms=policy.max_sms_per_abandonment,
        sms_deadline=policy.sms_deadline,
    )
    return SenderSettings(settings.public_url, rules)


def _store_info(settings: Settings) -> StoreInfoLookup:
    return StoreInfoLookup(
        {
            s.id: StoreInfo(
                s.id,
                s.name,
                s.timezone,
                s.currency,
                s.consent_mode,
                ShopAccess(s.platform, s.shop_domain, s.access_token),
                {key: window.to_domain() for key, window in s.sending_windows.items()},
            )
            for s in settings.stores
        }
    )


class StoreInfoLookup:
    def __init__(self, stores: dict[str, StoreInfo]) -> None:
        self.stores = stores

    def __call__(self, store_id: str) -> StoreInfo:
        found = self.stores.get(store_id)
        if found is None:
            # A store removed from the config while its carts still run: keep going neutrally.
            return StoreInfo(store_id, store_id, "UTC", None)
        return found


class WorkerThread(threading.Thread):
    """The scheduler on a loop, in a thread of `cartback serve` or in `cartback worker`."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(name="cartback-worker", daemon=True)
        self.runtime = runtime
        self.stopping = threading.Event()

    def run(self) -> None:
        interval = self.runtime.settings.worker.poll_interval.total_seconds()
        while not self.stopping.is_set():
            try:
                busy = self.runtime.worker.run_once() >= self.runtime.settings.worker.batch_size
            except Exception:
                log.exception("scheduler tick failed; trying again")
                busy = False
            if not busy:
                self.stopping.wait(interval)

    def stop(self) -> None:
        self.stopping.set()
