"""The composition root: from validated settings to the database, gateways, ingest and worker."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import httpx

from cartback.channels.base import Gateway
from cartback.channels.outbox import OutboxGateway
from cartback.clock import Clock, SystemClock
from cartback.config import Settings
from cartback.domain.emails import bare_address
from cartback.domain.events import Channel
from cartback.domain.records import Delivery
from cartback.domain.signing import Signing
from cartback.engine.apply import Windows
from cartback.engine.compose import Composer
from cartback.engine.delivery_queue import DeliveryQueue, ParserOf
from cartback.engine.discounting import DiscountIssuer, ShopAccess
from cartback.engine.enrichment import admin_gaps, shopify_enricher
from cartback.engine.feedback import Feedback
from cartback.engine.help_reply import help_responder
from cartback.engine.ingest import IngestService, Parser
from cartback.engine.pacing import Limits, Pacing
from cartback.engine.privacy import Privacy
from cartback.engine.recorder import Recorder
from cartback.engine.retry import Breaker
from cartback.engine.scheduler import Scheduler, SchedulerSettings
from cartback.engine.sender import Sender, SenderSettings, StoreInfo
from cartback.engine.worker import Worker, WorkerThread
from cartback.gateways import Gateways, build_gateways, channel_setups, pace
from cartback.integrations.registry import parser_for
from cartback.jobs import worker_jobs
from cartback.keys import erase_key, erase_keys
from cartback.metrics import Metrics, watching
from cartback.startup import ensure_schema
from cartback.store.base import Store
from cartback.store.sql import SqlStore
from cartback.tenants import store_gateways

log = logging.getLogger("cartback")
SIGNING_ROW = "signing"  # the name of the signing secret among the database's secrets


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
    signing: Signing  # unsubscribe links, callback keys, and any keyed hash of ours
    metrics: Metrics = field(default_factory=Metrics)
    # The same build on the same store, clock, metrics and breaker, for a reloaded config.
    rebuild: Callable[[Settings], Runtime] | None = None
    # Drain the delivery queue after each webhook answer: when the worker shares the process
    # (`serve`; tests). `serve --no-worker` leaves it to `cartback worker`.
    apply_after_answer: bool = True

    def close(self) -> None:
        """On shutdown, once the worker stopped: close the gateways' open connections and the
        recorder's."""
        self.gateways.close()
        self.recorder.close()


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    gateways: Mapping[Channel, Gateway] | None = None,
    echo_outbox: bool = False,
    store: Store | None = None,
    http_transport: httpx.BaseTransport | None = None,
    metrics: Metrics | None = None,
    breaker: Breaker | None = None,
) -> Runtime:
    """`store`: the SQL store of `database_url` unless given (the in-memory one, a test's);
    `metrics` and `breaker`: a running runtime's, when its config is reloaded (the counts go on,
    and a gateway that rests keeps resting)."""
    clock = clock or SystemClock()
    store = store or SqlStore.connect(
        settings.database_url, threads=settings.worker.concurrency, lanes=settings.database_lanes
    )
    flows = {f.id: f for f in settings.domain_flows()}
    signing = load_signing(settings, store, clock)
    outboxes: dict[str, OutboxGateway] = {}
    built = build_gateways(
        settings,
        clock,
        echo=echo_outbox,
        transport=http_transport,
        outboxes=outboxes,
        signing=signing,
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
            signing=signing,
        ),
    )
    built.more = [gateway for mine in per_store.values() for gateway in mine.values()]
    breaker = breaker or Breaker()
    metrics = metrics or watching(store, clock, lambda: breaker.states(clock.now()))
    windows = Windows(settings.attribution.click_window, settings.attribution.send_window)
    enrich = shopify_enricher(settings, clock, transport=http_transport)
    privacy = Privacy(partial(erase_key, signing))
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
        _sender_settings(settings, signing),
        _composer(settings, signing),
        discounts=DiscountIssuer(transport=http_transport),
        metrics=metrics,
        breaker=breaker,
        store_channels={
            store_id: channel_setups(settings.channels_of(store_id), gateways)
            for store_id, gateways in per_store.items()
        },
        pacing=_pacing(settings, built.by_channel, per_store),
    )
    worker_config = settings.worker
    scheduling = SchedulerSettings(
        worker_config.batch_size,
        worker_config.lease,
        worker_config.concurrency,
        longest_send=_longest_send(settings),
    )
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
    feedback = Feedback(store, clock, help_responder(settings, store, built.by_channel, per_store))
    queue = DeliveryQueue(
        store,
        clock,
        ingest,
        _parser_of(settings),
        batch_size=worker_config.batch_size,
        lease=worker_config.lease,
    )
    jobs = worker_jobs(settings, built, feedback, store, clock, ingest)
    worker = Worker(clock, scheduler, jobs, deliveries=queue)
    recorder = Recorder(ingest)
    runtime = Runtime(
        settings,
        store,
        clock,
        ingest,
        scheduler,
        feedback,
        built,
        worker,
        queue,
        recorder,
        signing,
        metrics,
    )
    runtime.rebuild = partial(
        build,
        clock=clock,
        gateways=gateways,
        echo_outbox=echo_outbox,
        store=store,
        http_transport=http_transport,
        metrics=metrics,
        breaker=breaker,
    )
    return runtime


def privacy_requests(runtime: Runtime) -> Privacy:
    """Export and erase (the CLI's and the API's), keyed like the running engine's."""
    return Privacy(partial(erase_key, runtime.signing))


def _pacing(
    settings: Settings,
    gateways: Mapping[Channel, Gateway],
    per_store: Mapping[str, Mapping[Channel, Gateway]],
) -> Pacing:
    """Each gateway's calls in flight and messages/s per sender: its channel's config, else the
    provider's documented pace; the global channels first, then stores' own (a gateway of a
    provider only a store uses gets that store's). A gateway that is not the provider's client
    (the backtest's recorder, a test's fake) keeps only what the config sets."""
    limits: dict[int, tuple[Gateway, Limits]] = {}
    sources = [(settings.channels, gateways)]
    sources += [(settings.channels_of(store), mine) for store, mine in per_store.items()]
    for channels, mine in sources:
        sms, email = channels.sms, channels.email
        for channel, config in ((Channel.SMS, sms), (Channel.RCS, sms), (Channel.EMAIL, email)):
            if config is not None and channel in mine:
                gateway = mine[channel]
                limits.setdefault(
                    id(gateway), (gateway, pace(config, built_in=gateway.name == config.provider))
                )
    return Pacing(limits.values())


def _parser_of(settings: Settings) -> ParserOf:
    def parser(delivery: Delivery) -> Parser | None:
        store = settings.store(delivery.store_id)
        if store is None:
            return None
        return parser_for(store, delivery.platform, delivery.topic, delivery.headers)

    return parser


def load_signing(settings: Settings, store: Store, clock: Clock) -> Signing:
    """The configured signing secret, else the one this installation made on its first start.

    The API token verifies too (links sent before there was a signing secret were signed with
    it), until it is rotated; it never signs anything new. The kept secret is read (or made) as
    soon as the schema is current: here, or in `prepare_database` after a migration.
    """
    earlier = [*settings.previous_signing_secrets, settings.api_token]
    if settings.signing_secret is not None:
        return Signing(settings.signing_secret, earlier)

    def kept() -> str:
        with store.transaction() as tx:
            return tx.secrets.keep(SIGNING_ROW, secrets.token_urlsafe(32), clock.now())

    signing = Signing(kept, earlier)
    if _schema_ready(store):
        _ = signing.secret  # now, not first inside a send's transaction
    return signing


def _longest_send(settings: Settings) -> timedelta:
    """The longest timeout of a configured channel: how long one gateway call may take."""
    channels = (settings.channels.sms, settings.channels.email)
    return max((c.timeout for c in channels if c is not None), default=timedelta(0))


def _schema_ready(store: Store) -> bool:
    return not isinstance(store, SqlStore) or store.schema_current()


def _composer(settings: Settings, signing: Signing) -> Composer:
    sms, email = settings.channels.sms, settings.channels.email
    return Composer(
        public_url=settings.public_url,
        signing=signing,
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
    revision = ensure_schema(store.engine, upgrade=auto_migrate, config_file=config_file)
    _ = runtime.signing.secret  # made (once) now that its table exists
    return revision


def _sender_settings(settings: Settings, signing: Signing) -> SenderSettings:
    rules = settings.policy.rules()
    return SenderSettings(settings.public_url, rules, partial(erase_keys, signing))


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


def worker_thread(runtime: Runtime) -> WorkerThread:
    """The worker on a loop, in a thread of `cartback serve` or of `cartback worker`."""
    worker = runtime.settings.worker
    return WorkerThread(runtime.worker, worker.poll_interval, worker.batch_size)
