"""`cartback simulate`: a generated world through the one engine, then the invariant checker.

The world (`world.py`) is replayed as cartback would have heard it: webhooks through ingest at
their arrival, STOP replies through the gateway feedback path, promotional touches into the
touches book, and a gateway that now and then fails (retried, or refused for good). Every
message that went out is then checked against the rules (`invariants.py`).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cartback.channels.base import InboundMessage, OutgoingMessage, SendResult, SendStatus
from cartback.config import Settings
from cartback.domain.policy import Decision, SendFacts
from cartback.domain.records import MESSAGE_OUT, Touch
from cartback.history.invariants import RULES, Limits, Sent, Violations, check
from cartback.history.replay import RECORDER, Replay, horizon
from cartback.history.world import START, Happening, World, generate

Progress = Callable[[Sequence[Happening]], Iterable[Happening]]
Policy = Callable[[SendFacts], Decision]


@dataclass
class Simulation:
    world: World
    seed: int
    sent: list[Sent]
    violations: Violations
    gateway: Counter[str]  # what the gateway answered

    def as_json(self) -> dict[str, Any]:
        channels = Counter(s.channel for s in self.sent)
        return {
            "carts": len(self.world.owners),
            "people": len(self.world.people),
            "seed": self.seed,
            "happenings": Counter(h.kind for h in self.world.happenings),
            "messages": dict(sorted(channels.items())),
            "gateway": dict(sorted(self.gateway.items())),
            "violations": {rule: self.violations.counts[rule] for rule in RULES},
            "examples": self.violations.examples,
        }


def simulate(
    settings: Settings,
    carts: int,
    seed: int,
    *,
    policy: Policy | None = None,
    progress: Progress = lambda happenings: happenings,
) -> Simulation:
    store_id = settings.stores[0].id
    world = generate(carts, seed, store_id)
    gateway = _Flaky(random.Random(seed))
    replay = Replay(settings, START, respond=gateway)
    replay.runtime.scheduler.sender.dispatcher.rng = random.Random(seed)  # retry jitter: a seed
    if policy is not None:
        replay.runtime.scheduler.sender.policy = policy
    for happening in progress(world.happenings):
        _hear(replay, happening)
    last = world.happenings[-1].arrives if world.happenings else START
    replay.finish(last + horizon(settings))
    sent = _sent(replay, world)
    violations = check(world, sent, Limits.of(settings, store_id))
    return Simulation(world, seed, sent, violations, gateway.answers)


class _Flaky:
    """A gateway that accepts most messages, asks for a retry now and then, refuses a few."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.answers: Counter[str] = Counter()

    def __call__(self, message: OutgoingMessage) -> SendResult:
        draw = self.rng.random()
        status = (
            SendStatus.RETRY
            if draw < 0.03
            else SendStatus.FAILED
            if draw < 0.04
            else SendStatus.SENT
        )
        self.answers[str(status)] += 1
        if status != SendStatus.SENT:
            return SendResult(status, error=f"simulated {status}")
        return SendResult(status, provider_message_id=f"sim-{message.id}")


def _hear(replay: Replay, happening: Happening) -> None:
    if happening.kind == "webhook":
        replay.feed(happening.event(), received_at=happening.arrives)
        return
    replay.advance_to(happening.arrives)
    phone = happening.person.phone
    if happening.kind == "stop":
        reply = InboundMessage(
            RECORDER,
            f"stop-{phone}-{happening.arrives.timestamp()}",
            phone,
            None,
            "STOP",
            happening.arrives,
        )
        replay.runtime.feedback.apply_inbound(reply)
    else:
        touch = Touch(phone, "sms", happening.arrives, "simulation")
        with replay.store.transaction() as tx:
            tx.touches.add_many([touch], happening.arrives)


def _sent(replay: Replay, world: World) -> list[Sent]:
    found = []
    with replay.store.reading() as tx:
        for key, person in world.owners.items():
            cart = tx.carts.find(world.store_id, key)
            if cart is None:
                continue
            for m in tx.messages.for_cart(cart.id):
                if m.status in MESSAGE_OUT and m.sent_at is not None:
                    channel = m.channel_used or m.channel
                    found.append(Sent(key, channel, m.recipient, m.sent_at, person.zone))
    return found


def text_lines(result: Simulation) -> list[str]:
    data = result.as_json()
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(data["happenings"].items()))
    messages = ", ".join(f"{n} {channel}" for channel, n in data["messages"].items())
    gateway = ", ".join(f"{n} {answer}" for answer, n in data["gateway"].items())
    lines = [
        f"simulated {data['carts']} carts of {data['people']} people (seed {result.seed}): {kinds}",
        f"messages out: {messages or 'none'}; the gateway answered {gateway or 'nothing'}",
        f"violations: {result.violations.total}",
    ]
    lines += [f"  {rule:<15} {count}" for rule, count in data["violations"].items()]
    lines += [f"  e.g. {example}" for example in data["examples"]]
    return lines
