"""A generated world of shoppers for `cartback simulate`: what happened, and when cartback heard.

People across the globe (their numbers tell their time zone), carts updated once or twice, consent
given, not given or withdrawn, STOP replies, promotional touches sent by other systems, second
carts of the same person, orders (some racing the first message), webhooks that arrive late or
out of order. Everything is drawn from one seeded random generator, so a seed is a world.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cartback.domain.phone import split_phone
from cartback.history.events import HistoryEvent

START = datetime.fromisoformat("2026-11-02T00:00:00+00:00")
SPAN = timedelta(days=3)  # carts are left over three days
# (prefix, digits after it, the zone the number is in)
NUMBERS = (
    ("+4520", 6, "Europe/Copenhagen"),
    ("+4915", 9, "Europe/Berlin"),
    ("+1212", 7, "America/New_York"),
    ("+1415", 7, "America/Los_Angeles"),
    ("+55119", 8, "America/Sao_Paulo"),
    ("+8190", 8, "Asia/Tokyo"),
    ("+6129", 7, "Australia/Sydney"),
    ("+9198", 8, "Asia/Calcutta"),
    ("+2782", 7, "Africa/Johannesburg"),
    ("+659", 7, "Asia/Singapore"),
)


@dataclass(frozen=True, slots=True)
class Person:
    key: str
    phone: str
    zone: str
    email: str


@dataclass(frozen=True, slots=True)
class Happening:
    """Something cartback hears of at `arrives`: a webhook (`body`), a STOP reply, a touch."""

    arrives: datetime
    kind: str  # webhook | stop | touch
    store_id: str
    person: Person
    body: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # when it happened, where that differs from `arrives`

    def event(self) -> HistoryEvent:
        return HistoryEvent(
            at=datetime.fromisoformat(self.body["occurred_at"]),
            store_id=self.store_id,
            key=self.body["event_id"],
            body=json.dumps(self.body).encode(),
        )


@dataclass
class World:
    store_id: str
    people: list[Person]
    happenings: list[Happening]  # in the order cartback hears of them
    owners: dict[str, Person]  # cart id → its person


def generate(carts: int, seed: int, store_id: str = "sim") -> World:
    rng = random.Random(seed)
    people: list[Person] = []
    found: list[Happening] = []
    owners: dict[str, Person] = {}
    for n in range(carts):
        if people and rng.random() < 0.1:
            person = people[-1]  # a second cart of the same person
        else:
            person = _person(rng, len(people))
            people.append(person)
        owners[f"c{n}"] = person
        found += _cart_story(rng, n, person, store_id)
    found.sort(key=lambda h: h.arrives)
    return World(store_id, people, found, owners)


def _person(rng: random.Random, n: int) -> Person:
    while True:
        prefix, digits, zone = rng.choice(NUMBERS)
        text = prefix + "".join(str(rng.randrange(10)) for _ in range(digits))
        phone, _raw = split_phone(text, None)
        if phone is not None:
            return Person(f"p{n}", phone, zone, f"person{n}@example.com")


def _cart_story(rng: random.Random, n: int, person: Person, store_id: str) -> list[Happening]:
    start = START + timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))
    sms = rng.choices([True, False, None], [75, 15, 10])[0]
    email = rng.random() < 0.5
    times = [start]
    if rng.random() < 0.3:
        times.append(start + timedelta(minutes=rng.randrange(1, 20)))
    story = [
        _webhook(rng, store_id, person, _cart(n, k, at, person, sms, email))
        for k, at in enumerate(times)
    ]
    last = times[-1]
    if rng.random() < 0.05:  # bought right as the first message is due
        bought = last + timedelta(seconds=1800 + rng.randrange(-90, 90))
        story.append(_order_story(rng, n, bought, person, store_id))
    elif rng.random() < 0.25:
        bought = last + timedelta(minutes=rng.randrange(1, 48 * 60))
        story.append(_order_story(rng, n, bought, person, store_id))
    if rng.random() < 0.04:
        withdrawn = last + timedelta(seconds=rng.randrange(60, 30 * 3600))
        story.append(_webhook(rng, store_id, person, _consent(n, withdrawn, person, False)))
    elif sms is not True and rng.random() < 0.1:  # signed up elsewhere, e.g. a newsletter form
        given = last + timedelta(seconds=rng.randrange(60, 30 * 3600))
        story.append(_webhook(rng, store_id, person, _consent(n, given, person, True)))
    if rng.random() < 0.03:
        stop = last + timedelta(seconds=rng.randrange(31 * 60, 30 * 3600))
        story.append(Happening(stop, "stop", store_id, person))
    if rng.random() < 0.05:
        touched = start + timedelta(seconds=rng.randrange(-48 * 3600, 24 * 3600))
        story.append(Happening(touched, "touch", store_id, person))
    return story


def _order_story(
    rng: random.Random, n: int, at: datetime, person: Person, store_id: str
) -> Happening:
    body = _envelope(f"order-{n}", "order.placed", at)
    body["order"] = {"id": f"o{n}", "cart_id": f"c{n}", "currency": "EUR", "total": "80.00"}
    body["customer"] = {"id": person.key, "email": person.email}
    return _webhook(rng, store_id, person, body)


def _webhook(rng: random.Random, store_id: str, person: Person, body: dict[str, Any]) -> Happening:
    """A webhook arrives when it happened; one in twenty late, by up to three hours (so a
    cart's older update may arrive after its newer one)."""
    at = datetime.fromisoformat(body["occurred_at"])
    late = timedelta(seconds=rng.randrange(60, 3 * 3600)) if rng.random() < 0.05 else timedelta(0)
    return Happening(at + late, "webhook", store_id, person, body, at)


def _envelope(key: str, kind: str, at: datetime) -> dict[str, Any]:
    return {"event_id": key, "type": kind, "occurred_at": at.isoformat()}


def _cart(
    n: int, k: int, at: datetime, person: Person, sms: bool | None, email: bool
) -> dict[str, Any]:
    body = _envelope(f"cart-{n}-{k}", "cart.updated", at)
    body["cart"] = {
        "id": f"c{n}",
        "currency": "EUR",
        "total": f"{40 + 10 * k}.00",
        "recovery_url": f"https://shop.example/cart/c{n}",
        "items": [{"title": "Scarf", "quantity": 1 + k, "price": "40.00"}],
    }
    body["customer"] = {
        "id": person.key,
        "email": person.email,
        "phone": person.phone,
        "first_name": "Kim",
        "consent": {"sms": sms, "email": email},
    }
    return body


def _consent(n: int, at: datetime, person: Person, granted: bool) -> dict[str, Any]:
    body = _envelope(f"consent-{n}", "consent.changed", at)
    body["consent"] = {"channel": "sms", "granted": granted}
    body["customer"] = {"id": person.key, "phone": person.phone}
    return body
