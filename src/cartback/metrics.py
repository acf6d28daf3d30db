"""What a running cartback counts, for `GET /metrics` (Prometheus' text format).

Each runtime owns one `Metrics` with a registry of its own, so two apps in one process (tests,
the demo) never share a number. The engine calls the small `count_*`/`observe_*` methods where
things happen; what lives in the database (the due backlog and its oldest age) is read from the
store when the page is scraped, by a collector the runtime adds (`watch_backlog`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cartback.clock import Clock
from cartback.domain.experiments import Assignment
from cartback.store.base import Store
from cartback.store.upkeep import Backlog

_LAG_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)
_GATEWAY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.webhooks = Counter(
            "cartback_webhooks",
            "Webhook requests by platform and answer",
            ["platform", "status"],
            registry=r,
        )
        self.deliveries = Counter(
            "cartback_deliveries", "Stored deliveries applied or failed", ["outcome"], registry=r
        )
        self.sends = Counter(
            "cartback_sends",
            "Gateway calls by channel, gateway and outcome",
            ["channel", "gateway", "outcome"],
            registry=r,
        )
        self.gateway_seconds = Histogram(
            "cartback_gateway_call_seconds",
            "How long a gateway took to answer",
            ["gateway"],
            buckets=_GATEWAY_BUCKETS,
            registry=r,
        )
        self.due_to_sent = Histogram(
            "cartback_due_to_sent_seconds",
            "From the time a send step was due to the gateway's acceptance",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "cartback_decisions",
            "Decisions recorded on carts' timelines",
            ["action", "reason"],
            registry=r,
        )
        self.assignments = Counter(
            "cartback_holdout_assignments",
            "Abandoned carts of flows with a holdout: held out or treated",
            ["group"],
            registry=r,
        )
        self.arms = Counter(
            "cartback_experiment_assignments",
            "Abandoned carts given an arm of an experiment",
            ["experiment", "arm"],
            registry=r,
        )

    # hooks --------------------------------------------------------------------------------

    def count_webhook(self, platform: str, status: int) -> None:
        self.counter_of_webhooks(platform, status)()

    def counter_of_webhooks(self, platform: str, status: int) -> Callable[[], None]:
        """What counts one webhook answer of `platform` with `status`: kept by a caller that
        counts every request, to spare the label look-up."""
        return self.webhooks.labels(platform, str(status)).inc

    def count_delivery(self, outcome: str) -> None:
        self.deliveries.labels(outcome).inc()

    def count_send(self, channel: str, gateway: str, outcome: str, seconds: float) -> None:
        self.sends.labels(channel, gateway, outcome).inc()
        self.gateway_seconds.labels(gateway).observe(seconds)

    def observe_lag(self, due_at: datetime | None, sent_at: datetime) -> None:
        if due_at is not None:
            self.due_to_sent.observe(max((sent_at - due_at).total_seconds(), 0.0))

    def count_decision(self, action: str, reason: str) -> None:
        self.decisions.labels(action, reason).inc()

    def count_assignment(self, has_holdout: bool, assignment: Assignment) -> None:
        """Where an abandoned cart was placed, once, when its flow is chosen."""
        if has_holdout:
            self.assignments.labels("holdout" if assignment.held_out else "treated").inc()
        for experiment, arm in assignment.arms:
            self.arms.labels(experiment, arm).inc()

    # scraping -----------------------------------------------------------------------------

    def watch_backlog(self, read: Callable[[], Backlog], now: Callable[[], datetime]) -> None:
        """Read the due backlog from the store at each scrape (once per registry)."""
        self.registry.register(_BacklogCollector(read, now))

    def watch_breakers(self, read: Callable[[], Mapping[str, bool]]) -> None:
        """Read whether each gateway rests at each scrape (once per registry)."""
        self.registry.register(_BreakerCollector(read))

    def page(self) -> bytes:
        return generate_latest(self.registry)

    def serve(self, host: str, port: int) -> Callable[[], None]:
        """This registry at http://host:port/ for a process without the API (`cartback
        worker --metrics-port`); returns how to stop it. An OSError when the port is taken."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return stop


def watching(store: Store, clock: Clock, breakers: Callable[[], Mapping[str, bool]]) -> Metrics:
    """A runtime's metrics: the backlog gauges read `store` at each scrape, the breaker gauge
    the sender's breakers."""
    metrics = Metrics()

    def read() -> Backlog:
        with store.reading() as tx:
            return tx.upkeep.backlog(clock.now())

    metrics.watch_backlog(read, clock.now)
    metrics.watch_breakers(breakers)
    return metrics


class _BacklogCollector(Collector):
    def __init__(self, read: Callable[[], Backlog], now: Callable[[], datetime]) -> None:
        self.read = read
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        backlog = self.read()
        age = 0.0
        if backlog.oldest_due_at is not None:
            age = max((self.now() - backlog.oldest_due_at).total_seconds(), 0.0)
        yield GaugeMetricFamily(
            "cartback_due_backlog", "Pending steps whose time has come", value=backlog.due
        )
        yield GaugeMetricFamily(
            "cartback_oldest_due_age_seconds", "How long the oldest due step has waited", age
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


class _BreakerCollector(Collector):
    def __init__(self, read: Callable[[], Mapping[str, bool]]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "cartback_gateway_breaker_open",
            "1 while a gateway rests after failures in a row",
            labels=["gateway"],
        )
        for gateway, resting in self.read().items():
            family.add_metric([gateway], 1 if resting else 0)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
