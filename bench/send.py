"""Sending throughput of one worker against a gateway that takes 200 ms per call.

Seeds carts whose SMS step is due now (through the real ingest), then lets one worker claim and
send them all, with the configured concurrency, and compares its SMS/s with a bare loop that
calls the same fake gateway with the same concurrency (no database, no policy: the ceiling).
Prints the raw numbers and the ratio measured in one run; targets: >= 100 SMS/s, ratio >= 0.5.

    python bench/send.py [--messages 600] [--concurrency 32] [--latency 0.2] [--sqlite]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest import DOMAIN, SAMPLE, SECRET, analyze, fresh_postgres, postgres_option

from cartback.channels.base import OutgoingMessage, SendResult, SendStatus
from cartback.config import load_config
from cartback.domain.events import Channel
from cartback.engine.ingest import Delivery
from cartback.runtime import build, prepare_database, worker_thread

CONFIG = """\
database_url: {database_url}
public_url: http://127.0.0.1:8000
api_token: bench-token
stores:
  - id: bench
    platform: shopify
    shop_domain: {domain}
    webhook_secret: {secret}
    name: Bench
    timezone: Europe/Copenhagen
    default_country: DK
channels:
  sms:
    provider: outbox
    path: {folder}/outbox.jsonl
    sender: Bench
    concurrency: {concurrency}
policy:
  quiet_hours: null
  cooldown: 1h
worker:
  batch_size: {batch}
  concurrency: {concurrency}
flows:
  - id: cart-sms
    store: bench
    abandon_after: 30m
    steps:
      - send: sms
"""


@dataclass
class SlowGateway:
    """A gateway that answers after `latency` seconds, as a real one over the network does."""

    latency: float
    name: str = "slow-fake"
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: OutgoingMessage) -> SendResult:
        time.sleep(self.latency)
        with self.lock:
            self.calls += 1
        return SendResult(SendStatus.SENT, provider_message_id=message.id)


def checkouts(count: int, first: int = 0) -> list[Delivery]:
    """Checkouts last touched an hour ago: each one's SMS is due at once. Each has its own
    phone number, so that no cooldown or one-SMS rule holds one back."""
    sample = SAMPLE.read_text()
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    out = []
    for n in range(first, first + count):
        payload = json.loads(sample)
        payload.update(
            token=uuid.uuid4().hex,
            cart_token=uuid.uuid4().hex,
            email=f"send{n}@example.com",
            buyer_accepts_sms_marketing=True,
            sms_marketing_phone=f"+45201{n:05d}",  # valid Danish mobiles (up to 100,000)
            updated_at=at,
            created_at=at,
        )
        body = json.dumps(payload).encode()
        key = str(uuid.uuid4())
        headers = {"X-Shopify-Topic": "checkouts/update"}
        sequence = f"checkout:{payload['token']}"
        out.append(Delivery("shopify", "bench", "checkouts/update", key, headers, body, sequence))
    return out


def bare_loop(gateway: SlowGateway, messages: int, concurrency: int) -> float:
    """Messages/s of the gateway alone, called from `concurrency` threads."""
    message = OutgoingMessage("m", Channel.SMS, "+4530000000", "Bench", "hi")
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _n: gateway.send(message), range(messages)))
    return messages / (time.perf_counter() - started)


def worker_rate(
    database_url: str, folder: Path, args: argparse.Namespace
) -> tuple[float, int, float]:
    """SMS/s of one worker, how many it sent, and its process's CPU milliseconds per SMS (the
    figure a loaded machine disturbs least)."""
    config = folder / "send.yaml"
    config.write_text(
        CONFIG.format(
            database_url=database_url,
            domain=DOMAIN,
            secret=SECRET,
            folder=folder,
            concurrency=args.concurrency,
            batch=max(100, args.concurrency * 4),
        )
    )
    gateway = SlowGateway(args.latency)
    runtime = build(load_config(config, environ={}), gateways={Channel.SMS: gateway})
    prepare_database(runtime, auto_migrate=True)  # as a start does: schema, then the secret
    runtime.ingest.record_many(checkouts(args.messages))
    runtime.deliveries.drain()
    analyze(database_url)
    started, cpu = time.perf_counter(), time.process_time()
    worker = worker_thread(runtime)  # the loop `cartback worker` runs
    worker.start()
    while gateway.calls < args.messages and time.perf_counter() - started < args.deadline:
        time.sleep(0.01)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    worker.stop()
    worker.join()
    runtime.store.close()
    return gateway.calls / seconds, gateway.calls, cpu * 1000 / max(1, gateway.calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per gateway call")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--deadline", type=float, default=120, help="seconds to wait at most")
    postgres_option(parser)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        database = (
            f"sqlite:///{folder / 'send.db'}" if args.sqlite else fresh_postgres(args.postgres)
        )
        rate, sent, cpu_ms = worker_rate(database, folder, args)
    bare = bare_loop(SlowGateway(args.latency), args.messages, args.concurrency)
    kind = "SQLite" if args.sqlite else "PostgreSQL"
    print(
        f"sending, {args.messages} SMS, gateway {args.latency * 1000:.0f} ms per call, "
        f"concurrency {args.concurrency}, {kind}; {os.cpu_count()} CPUs, load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(f"  bare loop          {bare:8.1f} SMS/s")
    print(f"  one worker         {rate:8.1f} SMS/s  ({sent} sent)  ratio {rate / bare:.2f}")
    print(f"  worker CPU         {cpu_ms:8.2f} ms per SMS (this process, all threads)")
    met = rate >= 100 and rate / bare >= 0.5
    print(f"targets: >= 100 SMS/s and ratio >= 0.5: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
