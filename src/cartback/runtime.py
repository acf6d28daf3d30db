"""The composition root: from validated settings to the database, gateways, ingest and worker."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr

import httpx

from cartback.channels.base import Gateway, InboundSource
from cartback.channels.inmobile import InMobileGateway
from cartback.channels.outbox import OutboxGateway
from cartback.channels.smtp import SmtpGateway
from cartback.channels.twilio import TwilioGateway
from cartback.channels.unsubscribe import key_from
from cartback.clock import Clock, SystemClock
from cartback.config import EmailChannelConfig, Settings, SmsChannelConfig, StoreConfig
from cartback.config.channels import InMobileSms, OutboxEmail, OutboxSms
from cartback.domain.events import Channel
from cartback.domain.records import Delivery
from cartback.engine.apply import Windows
from cartback.engine.compose import Composer
from cartback.engine.delivery_queue import DeliveryQueue, ParserOf
from cartback.engine.discounting import DiscountIssuer, ShopAccess
from cartback.engine.dispatch import ChannelSetup
from cartback.engine.feedback import Feedback
from cartback.engine.ingest import IngestService, Parser
from cartback.engine.pacing import Limits, Pacing
from cartback.engine.poller import MagentoPoller
from cartback.engine.recorder import Recorder
from cartback.engine.retry import RetryPolicy
from cartback.engine.scheduler import Scheduler, SchedulerSettings
from cartback.engine.sender import Sender, SenderSettings, StoreInfo
from cartback.engine.worker import Periodic, Worker, WorkerThread, inbound_job
from cartback.integrations.magento_client import MagentoClient
from cartback.integrations.registry import parser_for
from cartback.startup import ensure_schema
from cartback.store.base import Store
from cartback.store.sql import SqlStore

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
    deliveries: DeliveryQueue
    recorder: Recorder  # stores the deliveries of concurrent webhooks in one transaction
    # Drain the delivery queue after each webhook answer: when the worker shares the process
    # (`serve`; tests). `serve --no-worker` leaves it to `cartback worker`.
    apply_after_answer: bool = True


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    gateways: Mapping[Channel, Gateway] | None = None,
    echo_outbox: bool = False,
    store: Store | None = None,
    http_transport: httpx.BaseTransport | None = None,
) -> Runtime:
    """`store`: the SQL store of `database_url` unless given (the in-memory one, a test's)."""
    clock = clock or SystemClock()
    store = store or SqlStore.connect(settings.database_url)
    flows = {f.id: f for f in settings.domain_flows()}
    built = build_gateways(settings, clock, echo=echo_outbox, transport=http_transport)
    if gateways is not None:
        built.by_channel = dict(gateways)
    windows = Windows(settings.attribution.click_window, settings.attribution.send_window)
    ingest = IngestService(store, clock, settings.flows_for_store, windows)
    sender = Sender(
        store,
        clock,
        _store_info(settings),
        channel_setups(settings, built.by_channel),
        _sender_settings(settings),
        _composer(settings),
        discounts=DiscountIssuer(transport=http_transport),
        pacing=_pacing(settings, built.by_channel),
    )
    worker_config = settings.worker
    scheduling = SchedulerSettings(
        worker_config.batch_size, worker_config.lease, worker_config.concurrency
    )
    scheduler = Scheduler(store, clock, flows.get, sender, scheduling, settings.flows_for_store)
    feedback = Feedback(store, clock)
    queue = DeliveryQueue(
        store,
        clock,
        ingest,
        _parser_of(settings),
        batch_size=settings.worker.batch_size,
        lease=settings.worker.lease,
    )
    jobs = _jobs(settings, built, feedback, store, clock, ingest)
    worker = Worker(clock, scheduler, jobs, deliveries=queue)
    recorder = Recorder(ingest)
    return Runtime(
        settings, store, clock, ingest, scheduler, feedback, built, worker, queue, recorder
    )


def _pacing(settings: Settings, gateways: Mapping[Channel, Gateway]) -> Pacing:
    """Each gateway's calls in flight and messages/s per sender, from its channel's config."""
    limits: dict[str, Limits] = {}
    sms, email = settings.channels.sms, settings.channels.email
    for channel, config in ((Channel.SMS, sms), (Channel.RCS, sms), (Channel.EMAIL, email)):
        if config is not None and channel in gateways:
            limits[gateways[channel].name] = Limits(config.concurrency, config.rate_limit)
    return Pacing(limits)


def _parser_of(settings: Settings) -> ParserOf:
    def parser(delivery: Delivery) -> Parser | None:
        store = settings.store(delivery.store_id)
        if store is None:
            return None
        return parser_for(store, delivery.platform, delivery.topic, delivery.headers)

    return parser


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
    if any(store.platform == "magento" for store in settings.stores):
        poller = MagentoPoller(store, clock, ingest, settings.stores, _magento_client)
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
    return SenderSettings(settings.public_url, settings.policy.rules())


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


def callback_key(api_token: str) -> str:
    """The secret in inMobile's status callback URL (inMobile does not sign its callbacks)."""
    return hmac.new(api_token.encode(), b"cartback inmobile callback", hashlib.sha256).hexdigest()[
        :32
    ]


def build_gateways(
    settings: Settings,
    clock: Clock,
    *,
    echo: bool = False,
    transport: httpx.BaseTransport | None = None,
) -> Gateways:
    """`transport` replaces the network for the HTTP gateways (tests, a local fake)."""
    built = Gateways()
    outboxes: dict[str, OutboxGateway] = {}
    if settings.channels.sms is not None:
        _add_sms(built, settings, settings.channels.sms, clock, echo, outboxes, transport)
    if settings.channels.email is not None:
        built.by_channel[Channel.EMAIL] = _email(settings.channels.email, clock, echo, outboxes)
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
    settings: Settings, gateways: dict[Channel, Gateway]
) -> dict[Channel, ChannelSetup]:
    setups: dict[Channel, ChannelSetup] = {}
    sms, email = settings.channels.sms, settings.channels.email
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
