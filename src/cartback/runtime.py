"""The composition root: from validated settings to the database, gateways, ingest and worker."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from functools import partial

import httpx

from cartback.channels.base import Gateway, InboundSource
from cartback.channels.inmobile import InMobileGateway
from cartback.channels.outbox import OutboxGateway
from cartback.channels.smtp import SmtpGateway
from cartback.channels.twilio import TwilioGateway
from cartback.channels.unsubscribe import key_from
from cartback.clock import Clock, SystemClock
from cartback.config import EmailChannelConfig, Settings, SmsChannelConfig, StoreConfig
from cartback.config.channels import ChannelsConfig, InMobileSms, OutboxEmail, OutboxSms
from cartback.domain.emails import bare_address
from cartback.domain.events import Channel
from cartback.engine.alert_notify import AlertNotifier
from cartback.engine.apply import Windows
from cartback.engine.compose import Composer
from cartback.engine.diagnostics import AlertWatch
from cartback.engine.discounting import DiscountIssuer, ShopAccess
from cartback.engine.dispatch import ChannelSetup
from cartback.engine.enrichment import admin_gaps, shopify_enricher
from cartback.engine.feedback import Feedback
from cartback.engine.help_reply import HelpResponder, ShopContact
from cartback.engine.ingest import IngestService
from cartback.engine.poller import MagentoPoller
from cartback.engine.privacy import Privacy
from cartback.engine.retention import Retention, retention_job
from cartback.engine.retry import RetryPolicy
from cartback.engine.scheduler import Scheduler, SchedulerSettings
from cartback.engine.sender import Sender, SenderSettings, StoreInfo
from cartback.engine.winners import EVERY as WINNERS_EVERY
from cartback.engine.winners import WinnerCaller
from cartback.engine.worker import Periodic, Worker, WorkerThread, inbound_job
from cartback.integrations.magento_client import MagentoClient
from cartback.keys import callback_key, erase_key
from cartback.metrics import Metrics, with_backlog
from cartback.startup import ensure_schema
from cartback.store.base import Store
from cartback.store.sql import SqlStore
from cartback.tenants import store_gateways

log = logging.getLogger("cartback")


@dataclass
class Runtime:
    settings: Settings
    store: Store
    clock: Clock
    ingest: IngestService
    scheduler: Scheduler
    feedback: Feedback
    gateways: Gateways
    worker: Worker
    metrics: Metrics = field(default_factory=Metrics)
    # The same build on the same store, clock and metrics, for a reloaded config.
    rebuild: Callable[[Settings], Runtime] | None = None


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    gateways: Mapping[Channel, Gateway] | None = None,
    echo_outbox: bool = False,
    store: Store | None = None,
    http_transport: httpx.BaseTransport | None = None,
    metrics: Metrics | None = None,
) -> Runtime:
    """`store`: the SQL store of `database_url` unless given (the in-memory one, a test's);
    `metrics`: a running runtime's, when its config is reloaded."""
    clock = clock or SystemClock()
    store = store or SqlStore.connect(settings.database_url)
    flows = {f.id: f for f in settings.domain_flows()}
    outboxes: dict[str, OutboxGateway] = {}
    built = build_gateways(
        settings, clock, echo=echo_outbox, transport=http_transport, outboxes=outboxes
    )
    if gateways is not None:
        built.by_channel = dict(gateways)

    per_store = store_gateways(
        settings,
        built,
        lambda channels: build_gateways(
            settings,
            clock,
            echo=echo_outbox,
            transport=http_transport,
            channels=channels,
            outboxes=outboxes,
        ),
    )
    metrics = metrics or with_backlog(store, clock)
    windows = Windows(settings.attribution.click_window, settings.attribution.send_window)
    enrich = shopify_enricher(settings, clock, transport=http_transport)
    privacy = Privacy(erase_key(settings))
    ingest = IngestService(
        store,
        clock,
        settings.flows_for_store,
        windows,
        privacy=privacy,
        enrich=enrich,
        metrics=metrics,
    )
    sender = Sender(
        store,
        clock,
        _store_info(settings),
        channel_setups(settings.channels, built.by_channel),
        _sender_settings(settings),
        _composer(settings),
        discounts=DiscountIssuer(transport=http_transport),
        metrics=metrics,
        store_channels={
            store_id: channel_setups(settings.channels_of(store_id), gateways)
            for store_id, gateways in per_store.items()
        },
    )
    scheduling = SchedulerSettings(settings.worker.batch_size, settings.worker.lease)
    scheduler = Scheduler(
        store,
        clock,
        flows.get,
        sender,
        scheduling,
        settings.flows_for_store,
        gaps=admin_gaps(settings),
        metrics=metrics,
    )
    feedback = Feedback(store, clock, _help_responder(settings, store, built))
    worker = Worker(clock, scheduler, _jobs(settings, built, feedback, store, clock, ingest))
    runtime = Runtime(settings, store, clock, ingest, scheduler, feedback, built, worker, metrics)
    runtime.rebuild = partial(
        build,
        clock=clock,
        gateways=gateways,
        echo_outbox=echo_outbox,
        store=store,
        http_transport=http_transport,
        metrics=metrics,
    )
    return runtime


def _jobs(
    settings: Settings,
    gateways: Gateways,
    feedback: Feedback,
    store: Store,
    clock: Clock,
    ingest: IngestService,
) -> list[Periodic]:
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
    return jobs


def _alert_job(settings: Settings, gateways: Gateways, store: Store, clock: Clock) -> Periodic:
    rules = settings.alerts
    notify = AlertNotifier(rules.webhook_url, rules.email, gateways.by_channel.get(Channel.EMAIL))
    stores = [(s.id, s.timezone) for s in settings.stores]
    watch = AlertWatch(store, clock, stores, rules, notify)
    return Periodic("diagnostics", rules.check_every, watch.run)


def _help_responder(settings: Settings, store: Store, gateways: Gateways) -> HelpResponder | None:
    """HELP is answered through the SMS gateway, naming the shop and its contact."""
    gateway, sms = gateways.by_channel.get(Channel.SMS), settings.channels.sms
    if gateway is None or sms is None:
        return None
    shops = {
        s.id: ShopContact(s.name, s.support_email, s.support_phone, s.locale)
        for s in settings.stores
    }
    return HelpResponder(store, gateway, sms.sender, shops, settings.policy.opt_out_texts())


def _magento_client(store: StoreConfig) -> MagentoClient:
    return MagentoClient(store.base_url or "", store.access_token or "")


def _composer(settings: Settings) -> Composer:
    sms, email = settings.channels.sms, settings.channels.email
    return Composer(
        public_url=settings.public_url,
        unsubscribe_key=key_from(settings.api_token),
        transliterate=bool(sms and sms.transliterate),
        unsubscribe_mailto=bare_address(email.unsubscribe_mailto or email.from_address)
        if email
        else None,
        opt_out=settings.policy.opt_out_texts(),
    )


def prepare_database(
    runtime: Runtime, *, auto_migrate: bool, config_file: str = "FILE"
) -> str | None:
    """SQLite migrates itself at startup; PostgreSQL must be migrated with `cartback migrate`.

    The revision the database is at (None in memory); a schema that is not current is an
    `OperatorError`.
    """
    store = runtime.store
    if not isinstance(store, SqlStore):
        return None  # nothing to migrate in memory
    return ensure_schema(store.engine, upgrade=auto_migrate, config_file=config_file)


def _sender_settings(settings: Settings) -> SenderSettings:
    return SenderSettings(settings.public_url, settings.policy.rules(), erase_key(settings))


def _store_info(settings: Settings) -> StoreInfoLookup:
    return StoreInfoLookup(
        {
            s.id: StoreInfo(
                s.id,
                s.name,
                s.timezone,
                s.currency,
                s.consent_mode,
                ShopAccess(s.platform, s.shop_domain, s.access_token, s.base_url),
                {key: window.to_domain() for key, window in s.sending_windows.items()},
                s.locale,
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


# gateways ------------------------------------------------------------------------------


@dataclass
class Gateways:
    by_channel: dict[Channel, Gateway] = field(default_factory=dict)
    inbound: list[InboundSource] = field(default_factory=list)
    inmobile: InMobileGateway | None = None
    twilio: TwilioGateway | None = None
    # Every Twilio account that sends (the global one, stores' own): its callbacks are signed
    # with its auth token.
    twilio_accounts: list[tuple[TwilioGateway, str]] = field(default_factory=list)


def build_gateways(
    settings: Settings,
    clock: Clock,
    *,
    echo: bool = False,
    transport: httpx.BaseTransport | None = None,
    channels: ChannelsConfig | None = None,
    outboxes: dict[str, OutboxGateway] | None = None,
) -> Gateways:
    """`transport` replaces the network for the HTTP gateways (tests, a local fake);
    `channels`: a store's own instead of the global ones; `outboxes`: the writers by file,
    shared by every store."""
    built = Gateways()
    channels = channels or settings.channels
    outboxes = {} if outboxes is None else outboxes
    if channels.sms is not None:
        _add_sms(built, settings, channels.sms, clock, echo, outboxes, transport)
    if channels.email is not None:
        built.by_channel[Channel.EMAIL] = _email(channels.email, clock, echo, outboxes)
    return built


def _outbox(
    path: str, clock: Clock, echo: bool, outboxes: dict[str, OutboxGateway]
) -> OutboxGateway:
    if path not in outboxes:  # sms and email may share one file; one writer per file
        outboxes[path] = OutboxGateway(path, clock, echo=echo)
    return outboxes[path]


def _add_sms(
    built: Gateways,
    settings: Settings,
    config: SmsChannelConfig,
    clock: Clock,
    echo: bool,
    outboxes: dict[str, OutboxGateway],
    transport: httpx.BaseTransport | None,
) -> None:
    timeout = config.timeout.total_seconds()
    if isinstance(config, OutboxSms):
        built.by_channel[Channel.SMS] = _outbox(config.path, clock, echo, outboxes)
    elif isinstance(config, InMobileSms):
        key = callback_key(settings.api_token)
        gateway = InMobileGateway(
            config.api_key,
            base_url=config.base_url or "https://api.inmobile.com",
            status_callback_url=f"{settings.public_url}/webhooks/inmobile/status?key={key}",
            clock=clock,
            timeout=timeout,
            transport=transport,
        )
        built.by_channel[Channel.SMS] = gateway
        built.inbound.append(gateway)
        built.inmobile = gateway
    else:
        twilio = TwilioGateway(
            config.account_sid,
            config.auth_token,
            from_number=config.sender if config.sender.startswith("+") else None,
            messaging_service_sid=config.messaging_service_sid,
            base_url=config.base_url or "https://api.twilio.com",
            status_callback_url=f"{settings.public_url}/webhooks/twilio/status",
            clock=clock,
            timeout=timeout,
            transport=transport,
        )
        built.by_channel[Channel.SMS] = twilio
        if twilio.supports_rcs:
            built.by_channel[Channel.RCS] = twilio
        built.twilio = twilio
        built.twilio_accounts.append((twilio, config.auth_token))


def _email(
    config: EmailChannelConfig, clock: Clock, echo: bool, outboxes: dict[str, OutboxGateway]
) -> Gateway:
    if isinstance(config, OutboxEmail):
        return _outbox(config.path, clock, echo, outboxes)
    return SmtpGateway(
        config.host,
        config.port,
        security=config.security,
        username=config.username,
        password=config.password,
        from_address=config.from_address,
        clock=clock,
        timeout=config.timeout.total_seconds(),
    )


def channel_setups(
    channels: ChannelsConfig, gateways: Mapping[Channel, Gateway]
) -> dict[Channel, ChannelSetup]:
    setups: dict[Channel, ChannelSetup] = {}
    sms, email = channels.sms, channels.email
    if sms is not None:
        retry = RetryPolicy(sms.max_attempts, sms.retry_backoff)
        for channel in (Channel.SMS, Channel.RCS):
            if channel in gateways:
                setups[channel] = ChannelSetup(
                    gateways[channel], sms.sender, sms.cost_per_segment, retry
                )
    if email is not None and Channel.EMAIL in gateways:
        retry = RetryPolicy(email.max_attempts, email.retry_backoff)
        name, _address = parseaddr(email.from_address or "")
        # The display name of `from`, if it has one; else each store's own name is used.
        setups[Channel.EMAIL] = ChannelSetup(gateways[Channel.EMAIL], name or None, retry=retry)
    return setups


def worker_thread(runtime: Runtime) -> WorkerThread:
    """The worker on a loop, in a thread of `cartback serve` or of `cartback worker`."""
    worker = runtime.settings.worker
    return WorkerThread(runtime.worker, worker.poll_interval, worker.batch_size)
