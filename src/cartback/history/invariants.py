"""The rules no message may break, checked from the world's own record of what cartback heard
and when, against the messages that went out. Written apart from the policy code on purpose
(nothing from `domain.policy`, `quiet_hours` or the engine's facts): a mistake there must show
here rather than be repeated here.

What cartback "knew" at a send is what had *arrived* by then; a webhook still on its way does not
count against it. Events of the very instant of the send have no order between them, so the
engine gets the benefit of the doubt: a grant or a cart update of that instant counts as known,
an order, a withdrawal or a STOP of that instant as not yet. The rules:

- no_consent       the latest consent known for the address and channel is not a yes
- after_stop       an SMS after the number replied STOP
- sending_window   an SMS inside the quiet hours of the recipient's own zone
- cooldown         a message within the cooldown of another one (or a known promotional touch)
                   to the same address, for another cart
- after_purchase   a message after an order of this cart, an order since the cart's last
                   update, or an order of the same person within the recent-purchase time
- second_sms       two SMS for one cart with no update of the cart between them
- sms_deadline     an SMS later than the deadline after the cart could first be abandoned
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from cartback.config import Settings
from cartback.history.world import Happening, World

RULES = (
    "no_consent",
    "after_stop",
    "sending_window",
    "cooldown",
    "after_purchase",
    "second_sms",
    "sms_deadline",
)
EXAMPLES_KEPT = 5


@dataclass(frozen=True, slots=True)
class Sent:
    """A message that reached the gateway."""

    cart: str  # the shop's cart id
    channel: str
    to: str
    at: datetime
    zone: str  # the recipient's own zone, as the world knows it


@dataclass(frozen=True, slots=True)
class Limits:
    """The configured numbers the rules are measured with."""

    quiet: tuple[time, time] | None
    cooldown: timedelta
    recent_purchase: timedelta
    sms_deadline: timedelta | None
    abandon_after: timedelta

    @classmethod
    def of(cls, settings: Settings, store_id: str) -> Limits:
        policy = settings.policy
        quiet = policy.quiet_hours
        waits = [f.abandon_after for f in settings.flows if f.store == store_id]
        return cls(
            quiet=(quiet.start, quiet.end) if quiet is not None else None,
            cooldown=policy.cooldown,
            recent_purchase=policy.recent_purchase,
            sms_deadline=policy.sms_deadline,
            abandon_after=min(waits, default=timedelta(0)),
        )


@dataclass
class Violations:
    counts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, rule: str, sent: Sent, why: str) -> None:
        self.counts[rule] += 1
        if len(self.examples) < EXAMPLES_KEPT:
            when = f"{sent.at:%Y-%m-%d %H:%M} UTC"
            self.examples.append(f"{rule}: {sent.channel} for cart {sent.cart} at {when}: {why}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class _Known:
    """What had arrived, by key: (when it happened, when it arrived, what)."""

    consent: dict[tuple[str, str], list[tuple[datetime, datetime, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    stops: dict[str, list[datetime]] = field(default_factory=lambda: defaultdict(list))
    touches: dict[str, list[datetime]] = field(default_factory=lambda: defaultdict(list))
    orders: dict[str, list[tuple[datetime, datetime, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    updates: dict[str, list[tuple[datetime, datetime]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    owners: dict[str, str] = field(default_factory=dict)  # cart → the person's email


def check(world: World, sent: Iterable[Sent], limits: Limits) -> Violations:
    known = _learn(world.happenings)
    found = Violations()
    messages = sorted(sent, key=lambda s: s.at)
    by_address: dict[str, list[Sent]] = defaultdict(list)
    sms_by_cart: dict[str, list[Sent]] = defaultdict(list)
    for message in messages:
        _check_one(message, known, limits, by_address[message.to], found)
        by_address[message.to].append(message)
        if message.channel == "sms":
            _second_sms(message, sms_by_cart[message.cart], known, found)
            sms_by_cart[message.cart].append(message)
    return found


def _learn(happenings: Iterable[Happening]) -> _Known:
    known = _Known()
    for h in happenings:
        if h.kind == "stop":
            known.stops[h.person.phone].append(h.arrives)
        elif h.kind == "touch":
            known.touches[h.person.phone].append(h.arrives)
        else:
            _learn_webhook(known, h)
    return known


def _learn_webhook(known: _Known, h: Happening) -> None:
    at = h.at or h.arrives
    body, who = h.body, h.person
    if body["type"] == "cart.updated":
        cart = body["cart"]["id"]
        known.updates[cart].append((at, h.arrives))
        known.owners[cart] = who.email
        given = body["customer"]["consent"]
        for channel, address in (("sms", who.phone), ("email", who.email)):
            if given.get(channel) is True:  # an unticked box withdraws nothing
                known.consent[(channel, address)].append((at, h.arrives, True))
    elif body["type"] == "consent.changed":
        granted = body["consent"]["granted"]
        channel = body["consent"]["channel"]
        address = who.phone if channel == "sms" else who.email
        known.consent[(channel, address)].append((at, h.arrives, granted))
    elif body["type"] == "order.placed":
        known.orders[who.email].append((at, h.arrives, body["order"].get("cart_id", "")))


def _check_one(
    sent: Sent, known: _Known, limits: Limits, earlier: list[Sent], found: Violations
) -> None:
    heard = [
        (at, granted)
        for at, came, granted in known.consent[(sent.channel, sent.to)]
        if came < sent.at or (came == sent.at and granted)
    ]
    if not heard or not max(heard)[1]:
        found.add("no_consent", sent, "no consent known" if not heard else "consent withdrawn")
    if sent.channel == "sms":
        _sms_rules(sent, known, limits, found)
    for other in reversed(earlier):
        if sent.at - other.at >= limits.cooldown:
            break
        if other.cart != sent.cart:
            found.add(
                "cooldown", sent, f"another message for cart {other.cart} at {other.at:%H:%M}"
            )
            break
    _purchase(sent, known, limits, found)


def _sms_rules(sent: Sent, known: _Known, limits: Limits, found: Violations) -> None:
    if any(stop < sent.at for stop in known.stops[sent.to]):
        found.add("after_stop", sent, "the number replied STOP")
    if limits.quiet is not None:
        local = sent.at.astimezone(ZoneInfo(sent.zone)).time()
        start, end = limits.quiet
        inside = (start <= local or local < end) if start > end else (start <= local < end)
        if inside:
            found.add("sending_window", sent, f"{local:%H:%M} in {sent.zone}")
    touched = [t for t in known.touches[sent.to] if t < sent.at]
    if touched and sent.at - max(touched) < limits.cooldown:
        found.add("cooldown", sent, "a promotional touch inside the cooldown")
    if limits.sms_deadline is not None:
        last = _last_update(known, sent.cart, sent.at)
        if last is not None and sent.at - (last + limits.abandon_after) > limits.sms_deadline:
            found.add("sms_deadline", sent, f"the cart was last updated {last:%Y-%m-%d %H:%M}")


def _last_update(known: _Known, cart: str, moment: datetime) -> datetime | None:
    heard = [at for at, came in known.updates[cart] if came <= moment]
    return max(heard) if heard else None


def _purchase(sent: Sent, known: _Known, limits: Limits, found: Violations) -> None:
    owner = known.owners.get(sent.cart)
    last = _last_update(known, sent.cart, sent.at)
    for placed, came, cart in known.orders.get(owner or "", ()):
        if came >= sent.at:
            continue
        this_cart = cart == sent.cart
        since_update = last is not None and placed >= last
        recent = timedelta(0) <= sent.at - placed < limits.recent_purchase
        if this_cart or since_update or recent:
            found.add("after_purchase", sent, f"an order placed {placed:%Y-%m-%d %H:%M}")
            return


def _second_sms(sent: Sent, before: list[Sent], known: _Known, found: Violations) -> None:
    if not before:
        return
    previous = before[-1].at
    arrivals = sorted(came for _at, came in known.updates[sent.cart])
    if bisect_right(arrivals, sent.at) == bisect_right(arrivals, previous):
        found.add("second_sms", sent, f"the first went at {previous:%Y-%m-%d %H:%M}")
